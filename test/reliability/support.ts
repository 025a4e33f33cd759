import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { cliPath } from '../helpers/paths.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() holds, a bounded number of times; returns whether it did. */
export async function until(check: () => boolean | Promise<boolean>, attempts = 200, intervalMs = 50): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return check();
}

/** The content of piece i of a long stream: an ordinal marker, padded so the stream is large. */
export function pieceText(i: number, padding: number): string {
  return `<${i}>${'x'.repeat(padding)} `;
}

export interface LongStreamUpstream {
  readonly url: string;
  /** Bytes the upstream's socket has accepted so far (it writes only while write() says yes). */
  accepted(): number;
  /** Total bytes of one full stream. */
  readonly total: number;
  /** Streams that ran to their end. */
  completed(): number;
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible upstream whose streaming answer is `pieces` chunks long and
 * that honours backpressure itself: it writes only while its socket accepts more.
 * So `accepted()` stops growing exactly when the gateway stops reading.
 */
export async function startLongStreamUpstream(pieces: number, padding: number): Promise<LongStreamUpstream> {
  const open = `data: {"id":"chatcmpl-long","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`;
  const close = ',"logprobs":null,"finish_reason":null}]}\n\n';
  const head = `${open}{"role":"assistant","content":""}${close}`;
  const frame = (i: number): string => `${open}{"content":${JSON.stringify(pieceText(i, padding))}}${close}`;
  const tail = `${open}{},"logprobs":null,"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`;
  let total = Buffer.byteLength(head) + Buffer.byteLength(tail);
  for (let i = 0; i < pieces; i++) total += Buffer.byteLength(frame(i));
  let accepted = 0;
  let completed = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = -1;
      const pump = (): void => {
        for (;;) {
          if (res.destroyed) return;
          let text: string;
          if (i === -1) text = head;
          else if (i < pieces) text = frame(i);
          else {
            res.end(tail);
            accepted += Buffer.byteLength(tail);
            completed++;
            return;
          }
          i++;
          accepted += Buffer.byteLength(text);
          if (!res.write(text)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    total,
    completed: () => completed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A raw HTTP/1.1 client on a socket the test controls (pause/resume reading). */
export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves when the server closed the connection. */
  readonly ended: Promise<void>;
}

export function rawPost(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const lines = [
        `POST ${path} HTTP/1.1`,
        `host: ${hostname}:${port}`,
        'content-type: application/json',
        `content-length: ${Buffer.byteLength(payload)}`,
        'connection: close',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n${payload}`);
      resolve({ socket, received: () => Buffer.concat(chunks), ended });
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
  });
}

/** Splits a raw HTTP/1.1 response into status, headers and the de-chunked body. */
export function parseRawResponse(raw: Buffer): { status: number; headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error('no complete response head');
  const headLines = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(headLines[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of headLines.slice(1)) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  let rest = raw.subarray(split + 4);
  if (headers['transfer-encoding'] !== 'chunked') return { status, headers, body: rest.toString('utf8') };
  const parts: Buffer[] = [];
  for (let guard = 0; guard < 10_000_000; guard++) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) break;
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return { status, headers, body: Buffer.concat(parts).toString('utf8') };
}

/** The text a client reads out of an OpenAI SSE body, and whether it ended with [DONE]. */
export function openAIStreamText(body: string): { text: string; done: boolean; errors: { code?: string }[] } {
  let text = '';
  let done = false;
  const errors: { code?: string }[] = [];
  for (const block of body.split('\n\n')) {
    for (const line of block.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const data = line.slice(6);
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const json = JSON.parse(data) as { choices?: { delta?: { content?: string } }[]; error?: { code?: string } };
      if (json.error !== undefined) errors.push(json.error);
      text += json.choices?.[0]?.delta?.content ?? '';
    }
  }
  return { text, done, errors };
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** stderr and stdout so far, for failure messages. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `perimeter serve --config file` as a real process and waits until it listens. */
export async function spawnGateway(configPath: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--config', configPath], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let url: string | undefined;
  let gone = false;
  void exited.then(() => (gone = true));
  const listening = await until(() => {
    const m = /"url":"(http:\/\/[^"]+)"[^\n]*perimeter listening/.exec(out);
    if (m !== null) url = m[1];
    return url !== undefined || gone;
  }, 400, 50);
  if (!listening || url === undefined) {
    child.kill('SIGKILL');
    throw new Error(`gateway did not start:\n${out}`);
  }
  return { child, url, output: () => out, exited };
}
