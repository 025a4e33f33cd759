import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Chunk } from '../../src/domain/chat.js';
import { StreamRestorer, restoreJsonText, restoreText } from '../../src/protect/restore.js';
import { MemoryVault } from '../../src/protect/vault/memory-vault.js';
import type { VaultSession } from '../../src/protect/vault/types.js';
import { startGateway, TEST_KEY, type CustomStack } from '../helpers/gateway.js';
import { assertErrorEnvelope, guardProcess, invalidUtf8, isRecord, nastyText, params, rawPost, type RawResponse } from './support.js';

/**
 * The streaming half: the placeholder restorer fed every possible split, and a real
 * gateway reading event streams from a raw loopback upstream that sends garbage,
 * invalid UTF-8 and huge lines, or a well-formed stream cut at arbitrary byte offsets.
 */

const vault = new MemoryVault({ ttlMs: 60_000 });

async function sessionWith(values: ReadonlyArray<[string, string]>): Promise<VaultSession> {
  const s = await vault.open({ requestId: `fuzz-${Math.random()}` });
  s.avoid([]);
  for (const [entity, value] of values) s.placeholderFor(entity, value);
  return s;
}

function textOf(chunks: readonly Chunk[]): string {
  return chunks.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

function argsOf(chunks: readonly Chunk[]): string {
  return chunks.map((c) => (c.type === 'tool_call_delta' ? c.arguments : '')).join('');
}

/** Pieces of `text` cut at the given offsets (sorted, deduplicated, empty pieces dropped). */
function cutAt(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < text.length).sort((a, b) => a - b);
  const out: string[] = [];
  let at = 0;
  for (const p of points) {
    out.push(text.slice(at, p));
    at = p;
  }
  out.push(text.slice(at));
  return out.filter((p) => p !== '');
}

describe('fuzzing the stream restorer', () => {
  const VALUES: ReadonlyArray<[string, string]> = [
    ['PERSON', 'Jane "JD" Doe\\'],
    ['EMAIL_ADDRESS', 'jane.doe@acme-corp.io'],
    ['CREDIT_CARD', '4111111111111111'],
    ['PERSON', 'Zoë 🙂 \ud800'],
  ];
  const token = fc.oneof(
    fc.constantFrom('<PERSON_1>', '<PERSON_2>', '<EMAIL_ADDRESS_1>', '<CREDIT_CARD_1>', '<PERSON_9>', '<', '>', '<PERSON_', '_1>', '<<', '<EMAIL', '"', '\\', '{', '}', ' '),
    nastyText,
  );

  it('text split at every possible boundary (one and two cuts) restores exactly as unsplit', async () => {
    const s = await sessionWith(VALUES);
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), (parts) => {
        const text = parts.join('');
        const expected = restoreText(text, s);
        // Every single cut, and every pair of cuts (texts here are short enough for n²).
        const cuts: number[][] = [[]];
        for (let i = 1; i < text.length; i++) cuts.push([i]);
        if (text.length <= 60) for (let i = 1; i < text.length; i++) for (let j = i + 1; j < text.length; j++) cuts.push([i, j]);
        for (const c of cuts) {
          const r = new StreamRestorer(s);
          const out: Chunk[] = [];
          for (const piece of cutAt(text, c)) out.push(...r.push({ type: 'text', text: piece }));
          out.push(...r.flush());
          assert.equal(textOf(out), expected, `cuts ${c.join(',')} of ${JSON.stringify(text)}`);
        }
      }),
      params(150),
    );
  });

  it('tool-call arguments split at every boundary restore to the same JSON as the whole', async () => {
    const s = await sessionWith(VALUES);
    const jsonish = fc.array(fc.oneof(token, fc.constantFrom('{"a": "', '", "b": ', '[', ']', ', ', '"<PERSON_1>"', '<CREDIT_CARD_1>', '\\"')), { maxLength: 10 }).map((p) => p.join(''));
    fc.assert(
      fc.property(jsonish, fc.boolean(), (args, asObject) => {
        const text = asObject ? `{"x": ${args}}` : args;
        const expected = restoreJsonText(text, s);
        for (let i = 0; i <= text.length; i++) {
          const r = new StreamRestorer(s);
          const out: Chunk[] = [{ type: 'tool_call_start', index: 0, id: 'c', name: 'f' }];
          for (const piece of cutAt(text, [i])) out.push(...r.push({ type: 'tool_call_delta', index: 0, arguments: piece }));
          out.push(...r.push({ type: 'finish', reason: 'tool_calls' }));
          assert.equal(argsOf(out), expected, `cut ${i} of ${JSON.stringify(text)}`);
        }
        // When the whole was valid JSON with placeholders as strings, it stays valid JSON.
        const quoted = `{"who": "<PERSON_1>", "mail": "<EMAIL_ADDRESS_1>", "n": <CREDIT_CARD_1>, "s": ${JSON.stringify(args)}}`;
        assert.doesNotThrow(() => JSON.parse(restoreJsonText(quoted, s)), quoted);
      }),
      params(150),
    );
  });
});

// ------------------------------------------------------------- a raw upstream

interface Script {
  /** Status and content-type of the upstream's answer. */
  status: number;
  type: string;
  pieces: Buffer[];
}

const ASSISTANT_CHUNK = (text: string): string =>
  `data: ${JSON.stringify({ id: 'up', object: 'chat.completion.chunk', created: 1, model: 'raw', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
const FINISH_CHUNK = `data: ${JSON.stringify({ id: 'up', object: 'chat.completion.chunk', created: 1, model: 'raw', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\ndata: [DONE]\n\n`;
const anthropicEvent = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
const ANTHROPIC_START =
  anthropicEvent('message_start', { message: { id: 'msg_up', type: 'message', role: 'assistant', model: 'raw', content: [], usage: { input_tokens: 3, output_tokens: 0 } } }) +
  anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
const anthropicText = (text: string): string => anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
const ANTHROPIC_END =
  anthropicEvent('content_block_stop', { index: 0 }) + anthropicEvent('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }) + anthropicEvent('message_stop', {});

/** Serves whatever script the request's last message names ("script:N"); otherwise echoes it as a stream, cut where the script says. */
class RawUpstream {
  readonly scripts = new Map<string, Script>();
  /** For the restore round trip: where to cut the echoed text. */
  readonly cuts = new Map<string, number[]>();
  /** The last user message of every request, as the upstream received it. */
  readonly received: string[] = [];
  readonly server: Server;
  constructor() {
    this.server = createServer((req, res) => void this.#answer(req, res));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean; messages: Array<{ content: unknown }> };
    const last = body.messages[body.messages.length - 1]?.content;
    const content = typeof last === 'string' ? last : JSON.stringify(last);
    this.received.push(content);
    const key = /script:(\d+)/.exec(content)?.[1] ?? /cut:(\d+)/.exec(content)?.[1] ?? '';
    const script = this.scripts.get(key);
    res.on('error', () => undefined);
    if (script !== undefined) {
      res.writeHead(script.status, { 'content-type': script.type });
      for (const piece of script.pieces) {
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    // Echo the text the gateway sent (placeholders and all), cut at the chosen offsets.
    const reply = `Echo: ${content}`;
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'up', object: 'chat.completion', created: 1, model: 'raw', choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const pieces = cutAt(reply, this.cuts.get(key) ?? []);
    for (const piece of pieces) res.write(ASSISTANT_CHUNK(piece));
    res.end(FINISH_CHUNK);
  }
}

/** The text a client reads from an OpenAI or Anthropic event stream. */
function sseText(sse: string): string {
  let text = '';
  for (const frame of sse.split('\n\n')) {
    const data = frame.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
    if (data === undefined || data === '[DONE]') continue;
    const event = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }>; delta?: { text?: string } };
    text += event.choices?.[0]?.delta?.content ?? event.delta?.text ?? '';
  }
  return text;
}

describe('fuzzing upstream event streams through a real gateway', () => {
  const upstream = new RawUpstream();
  let gateway: CustomStack;
  const guard = guardProcess();
  let sequence = 0;

  before(async () => {
    const port = await upstream.listen();
    const timeouts = '    timeouts: { connectMs: 2000, firstByteMs: 5000, totalMs: 15000 }\n';
    gateway = await startGateway(`
server: { host: 127.0.0.1, port: 0, bodyLimitBytes: 1048576, drainTimeoutMs: 2000 }
logging: { level: silent }
auth: { required: false, keys: [{ id: tests, insecurePlaintext: ${TEST_KEY}, owner: tests }] }
backends:
  - id: raw-openai
    tier: public-api
    region: eu
    protocol: openai
    baseUrl: http://127.0.0.1:${port}/v1
${timeouts}    models: [{ id: raw-oa, capability: basic }]
  - id: raw-anthropic
    tier: public-api
    region: eu
    protocol: anthropic
    baseUrl: http://127.0.0.1:${port}
${timeouts}    models: [{ id: raw-an, capability: basic }]
routing:
  # Every property run is a fresh upstream script: no retries, and a breaker that never opens.
  retry: { maxAttempts: 1, attemptsPerBackend: 1, backoff: { baseMs: 1, maxMs: 1, jitter: 0 } }
  breaker: { failureThreshold: 10000, windowMs: 1, cooldownMs: 1 }
policy:
  matrix:
    regulated: { any: [on-prem] }
    confidential: { any: [public-api] }
    internal: { any: [public-api] }
    public: { any: [public-api] }
  rules:
    - id: placeholders-for-public
      when: { levels: [confidential] }
      effects: { pseudonymize_for: [public-api] }
`);
  });

  after(async () => {
    guard.dispose();
    await gateway.close();
    await upstream.close();
  });

  function chat(path: '/v1/chat/completions' | '/v1/messages', model: string, content: string, stream: boolean): Promise<RawResponse> {
    const body =
      path === '/v1/messages'
        ? { model, max_tokens: 50, stream, messages: [{ role: 'user', content }] }
        : { model, stream, messages: [{ role: 'user', content }] };
    return rawPost(gateway.url, path, JSON.stringify(body), { authorization: `Bearer ${TEST_KEY}` });
  }

  /**
   * An upstream failure is an envelope before the stream starts (the upstream's 4xx passed
   * on, or 502/503/504; never 500), or a final error event after it started.
   */
  function assertEndedOrFailed(path: string, res: RawResponse, context: string): void {
    const api = path === '/v1/messages' ? 'anthropic' : 'openai';
    if (res.status !== 200) {
      assert.ok((res.status >= 400 && res.status < 500) || [502, 503, 504].includes(res.status), `${context}: status ${res.status}: ${res.text.slice(0, 200)}`);
      return assertErrorEnvelope(api, res, context);
    }
    const type = String(res.headers['content-type']);
    if (!type.startsWith('text/event-stream')) {
      assert.doesNotThrow(() => JSON.parse(res.text), `${context}: 200 body is not JSON`);
      return;
    }
    if (api === 'openai') {
      if (res.text.endsWith('data: [DONE]\n\n')) return;
      const last = res.text.endsWith('\n\n') ? (res.text.slice(0, -2).split('\n\n').at(-1) ?? '') : '';
      let failed = false;
      try {
        const payload: unknown = JSON.parse(last.replace(/^data: /, ''));
        failed = last.startsWith('data: ') && isRecord(payload) && isRecord(payload['error']);
      } catch {
        failed = false;
      }
      assert.ok(failed, `${context}: stream ended neither cleanly nor with an error event: ${res.text.slice(-300)}`);
    } else {
      assert.match(res.text, /event: (message_stop|error)\ndata: [^\n]*\n\n$/, `${context}: ${res.text.slice(-300)}`);
    }
  }

  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    invalidUtf8,
    fc.constantFrom('\n', '\n\n', '\r\n', '\r', ': comment\n', 'data: ', 'data: [DONE]\n\n', 'event: error\n', 'retry: x\n', 'id: 1\n', 'data: {"error":{"message":"boom"}}\n\n').map((s) => Buffer.from(s)),
    fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(`data: ${JSON.stringify(v)}\n\n`)),
    nastyText.map((t) => Buffer.from(ASSISTANT_CHUNK(t))),
    nastyText.map((t) => Buffer.from(anthropicText(t))),
    fc.constantFrom(ASSISTANT_CHUNK('ok'), FINISH_CHUNK, ANTHROPIC_START, anthropicText('ok'), ANTHROPIC_END).map((s) => Buffer.from(s)),
    fc.integer({ min: 1000, max: 200_000 }).map((n) => Buffer.from(`data: ${'x'.repeat(n)}`)),
  ).map((bytes) => printable(bytes));
  /** Counterexamples print as a short preview, not as every byte of a 200 KB line. */
  function printable(bytes: Buffer): Buffer {
    Object.defineProperty(bytes, fc.toStringMethod, { value: () => `<${bytes.length} bytes: ${JSON.stringify(bytes.subarray(0, 40).toString('latin1'))}…>` });
    return bytes;
  }
  const script: fc.Arbitrary<Script> = fc.record({
    status: fc.constantFrom(200, 200, 200, 200, 400, 429, 500, 503),
    type: fc.constantFrom('text/event-stream', 'text/event-stream; charset=utf-8', 'application/json', 'text/plain', ''),
    pieces: fc.array(piece, { maxLength: 10 }),
  });

  it('garbage, invalid UTF-8 and huge lines from the upstream end in an error or a clean end, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(script, fc.constantFrom('/v1/chat/completions' as const, '/v1/messages' as const), fc.constantFrom('raw-oa', 'raw-an'), fc.boolean(), async (s, path, model, stream) => {
        const id = String(++sequence);
        upstream.scripts.set(id, s);
        const res = await chat(path, model, `hello script:${id}`, stream);
        upstream.scripts.delete(id);
        assertEndedOrFailed(path, res, `${path} ${model} stream=${stream} status=${s.status} ${s.type} ${s.pieces.length} pieces`);
      }),
      params(120),
    );
    guard.check();
  });

  it('a well-formed upstream stream cut at arbitrary byte offsets (inside UTF-8 sequences too) is read whole', async () => {
    // Well-formed Unicode only: a lone surrogate cannot be UTF-8 encoded, so it cannot be part of a well-formed stream.
    const text = fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constantFrom('é', '🙂', '中文', '\u0301', '\u200b', '\u202e', '\u0000', '\n')), { minLength: 1, maxLength: 5 }).map((p) => p.join(''));
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), async (texts, cuts, anthropic) => {
        const wellFormed = texts;
        const whole = Buffer.from(anthropic ? ANTHROPIC_START + wellFormed.map(anthropicText).join('') + ANTHROPIC_END : wellFormed.map(ASSISTANT_CHUNK).join('') + FINISH_CHUNK);
        const points = [...new Set(cuts.map((c) => c % whole.length))].filter((c) => c > 0).sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let at = 0;
        for (const p of points) {
          pieces.push(whole.subarray(at, p));
          at = p;
        }
        pieces.push(whole.subarray(at));
        const id = String(++sequence);
        upstream.scripts.set(id, { status: 200, type: 'text/event-stream', pieces });
        const res = await chat('/v1/chat/completions', anthropic ? 'raw-an' : 'raw-oa', `hello script:${id}`, true);
        upstream.scripts.delete(id);
        assert.equal(res.status, 200, res.text.slice(0, 200));
        assert.ok(res.text.endsWith('data: [DONE]\n\n'), res.text.slice(-200));
        assert.equal(sseText(res.text), wellFormed.join(''));
      }),
      params(60),
    );
  });

  it('a line past the 8 MB event buffer fails the stream with an error, not the process', async () => {
    const id = String(++sequence);
    upstream.scripts.set(id, { status: 200, type: 'text/event-stream', pieces: [Buffer.from(ASSISTANT_CHUNK('before')), Buffer.from(`data: ${'y'.repeat(9 * 1024 * 1024)}`)] });
    for (const path of ['/v1/chat/completions', '/v1/messages'] as const) {
      const res = await chat(path, 'raw-oa', `hello script:${id}`, true);
      assertEndedOrFailed(path, res, `${path} huge line`);
      assert.ok(res.status !== 200 || /error/.test(res.text.slice(-400)), 'a huge line must not end as a clean stream');
    }
    upstream.scripts.delete(id);
    guard.check();
  });

  it('placeholders the upstream splits anywhere come back restored, streamed and not', async () => {
    const EMAIL = 'jane.doe@acme-corp.io';
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 80 }), { maxLength: 8 }), fc.boolean(), fc.constantFrom('/v1/chat/completions' as const, '/v1/messages' as const), async (cuts, stream, path) => {
        const id = String(++sequence);
        upstream.cuts.set(id, cuts);
        const content = `mail ${EMAIL} now cut:${id}`;
        const res = await chat(path, 'raw-oa', content, stream);
        upstream.cuts.delete(id);
        assert.equal(res.status, 200, res.text.slice(0, 300));
        let text = '';
        if (!stream) {
          const body = JSON.parse(res.text) as { choices?: Array<{ message: { content: string } }>; content?: Array<{ text?: string }> };
          text = body.choices?.[0]?.message.content ?? body.content?.map((b) => b.text ?? '').join('') ?? '';
        } else {
          text = sseText(res.text);
        }
        // The upstream saw only the placeholder; the client sees the value, wherever the cuts fell.
        const sent = upstream.received.at(-1) ?? '';
        assert.ok(!sent.includes(EMAIL) && sent.includes('<EMAIL_ADDRESS_1>'), `upstream received ${sent}`);
        assert.equal(text, `Echo: ${content}`);
      }),
      params(60),
    );
    guard.check();
  });
});
