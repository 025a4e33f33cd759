import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReceivedRequest } from './types.js';

/** The frames of one SSE response; only `pieces` count as content chunks for pacing and faults. */
export interface StreamScript {
  head: string;
  pieces: string[];
  tail: string;
}

export interface StreamFaults {
  dropAfter: number | undefined;
  stallAfter: number | undefined;
}

/**
 * One request/response pair. It owns the only pending timer of the request,
 * so when the peer goes away every delay and stream loop stops with it: tests
 * rely on that to prove a client abort propagated upstream.
 */
export class Exchange {
  closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** We cut the connection on purpose (drop_after), so it is not the peer's abort. */
  private severed = false;
  private finished = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly simName: string,
    readonly record: ReceivedRequest | undefined,
  ) {
    res.once('finish', this.onFinish);
    res.once('close', this.onClose);
  }

  private readonly onFinish = (): void => {
    this.finished = true;
    if (this.record !== undefined) this.record.completed = true;
  };

  private readonly onClose = (): void => {
    this.closed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.record !== undefined && !this.finished && !this.severed) this.record.aborted = true;
  };

  /** Runs fn after ms (synchronously when ms <= 0) unless the connection closes first. */
  after(ms: number, fn: () => void): void {
    if (this.closed) return;
    if (ms <= 0) {
      fn();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) fn();
    }, ms);
  }

  sendJson(status: number, json: string): void {
    if (this.closed) return;
    this.res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      'x-sim-name': this.simName,
    });
    this.res.end(json);
  }

  /** Error responses; 429 and 503 carry retry-after like real upstreams so gateways can honour it. */
  sendError(status: number, json: string): void {
    if (this.closed) return;
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      'x-sim-name': this.simName,
    };
    if (status === 429 || status === 503) headers['retry-after'] = '1';
    this.res.writeHead(status, headers);
    this.res.end(json);
  }

  sendEmpty(status: number): void {
    if (this.closed) return;
    this.res.writeHead(status, { 'x-sim-name': this.simName });
    this.res.end();
  }

  /** Headers of a JSON response, then nothing, until the peer gives up. */
  stallJson(): void {
    if (this.closed) return;
    this.res.writeHead(200, { 'content-type': 'application/json', 'x-sim-name': this.simName });
    this.res.flushHeaders();
  }

  /** Abrupt end: no status line if nothing was sent, no chunked terminator if something was. */
  sever(): void {
    if (this.closed) return;
    this.severed = true;
    this.req.socket.destroy();
  }

  /** Non-streaming replies honour drop_after/stall_after too: any value means "fail this way". */
  sendJsonWithFaults(json: string, faults: StreamFaults): void {
    if (faults.dropAfter !== undefined) this.sever();
    else if (faults.stallAfter !== undefined) this.stallJson();
    else this.sendJson(200, json);
  }

  stream(script: StreamScript, ttftMs: number, tokensPerSecond: number, faults: StreamFaults): void {
    if (this.closed) return;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-sim-name': this.simName,
    });
    const limit = faults.dropAfter ?? faults.stallAfter;
    const count = limit === undefined ? script.pieces.length : Math.min(limit, script.pieces.length);
    const paced = tokensPerSecond > 0 && count > 1;
    if (ttftMs <= 0 && !paced) {
      // The common benchmark path: one write for the whole stream.
      let out = script.head;
      for (let i = 0; i < count; i++) out += script.pieces[i];
      this.finishStream(out, script.tail, faults);
      return;
    }
    this.res.flushHeaders();
    this.after(ttftMs, () => {
      if (!paced) {
        let out = script.head;
        for (let i = 0; i < count; i++) out += script.pieces[i];
        this.finishStream(out, script.tail, faults);
        return;
      }
      this.paceStream(script, count, tokensPerSecond, faults);
    });
  }

  /**
   * Piece i is due at start + i/rate. Each tick sends everything already due,
   * so rates above the timer resolution batch pieces instead of falling behind.
   */
  private paceStream(script: StreamScript, count: number, tokensPerSecond: number, faults: StreamFaults): void {
    const interval = 1000 / tokensPerSecond;
    const start = performance.now();
    let sent = 0;
    let pending = script.head;
    const tick = (): void => {
      const due = Math.min(count, Math.floor((performance.now() - start) / interval) + 1);
      let out = pending;
      pending = '';
      while (sent < due) out += script.pieces[sent++];
      if (sent >= count) {
        this.finishStream(out, script.tail, faults);
        return;
      }
      this.res.write(out);
      this.after(Math.max(1, start + sent * interval - performance.now()), tick);
    };
    tick();
  }

  private finishStream(out: string, tail: string, faults: StreamFaults): void {
    if (this.closed) return;
    if (faults.dropAfter !== undefined) {
      // Cut only once the chunks reached the kernel, so the client really sees N of them.
      if (out.length === 0) this.sever();
      else this.res.write(out, () => this.sever());
    } else if (faults.stallAfter !== undefined) {
      if (out.length > 0) this.res.write(out);
      else this.res.flushHeaders();
    } else {
      this.res.end(out + tail);
    }
  }
}
