import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { anthropicMessagesRequest } from '../../src/http/anthropic/schema.js';
import { openAIChatRequest, openAIEmbeddingRequest } from '../../src/http/openai/schema.js';
import { operationOf } from '../../src/http/records.js';
import { startStack, TEST_KEY, type TestStack } from '../helpers/gateway.js';
import { assertErrorEnvelope, guardProcess, invalidUtf8, isRecord, nastyText, params, rawPost, rawSocket, type Api, type RawResponse } from './support.js';

/**
 * The HTTP edge of a real gateway (three simulated tiers behind it) fed malformed,
 * huge, deeply nested and invalid-UTF-8 bodies over raw sockets. Whatever arrives,
 * the answer is the error envelope of the route's API with a 4xx status (or a real
 * answer, when a mutation happens to stay valid), never a 5xx; the process stays up;
 * and every inference request leaves exactly one decision record.
 */

const BODY_LIMIT = 1_048_576;
const CHAT = '/v1/chat/completions';
const MESSAGES = '/v1/messages';
const EMBEDDINGS = '/v1/embeddings';
const CLASSIFY = '/v1/perimeter/classify';
const ENDPOINTS = [CHAT, MESSAGES, EMBEDDINGS, CLASSIFY] as const;
type Endpoint = (typeof ENDPOINTS)[number];

const apiOf = (path: string): Api => (path === MESSAGES ? 'anthropic' : 'openai');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Valid bodies per endpoint, with the schema whose shape names the fields mutations may add. */
const BASES: ReadonlyArray<{ path: Endpoint; body: { [key: string]: Json }; keys: readonly string[] }> = [
  {
    path: CHAT,
    keys: Object.keys(openAIChatRequest.shape),
    body: {
      model: 'llama-3.1-8b-instruct',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'found it' },
        { role: 'user', content: 'and now?' },
      ],
      max_tokens: 50,
      temperature: 0.5,
      stop: ['\n\n'],
      tools: [{ type: 'function', function: { name: 'lookup', description: 'look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      tool_choice: 'auto',
      metadata: { team: 'fuzz' },
    },
  },
  {
    path: CHAT,
    keys: Object.keys(openAIChatRequest.shape),
    body: { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream this please' }] },
  },
  {
    path: MESSAGES,
    keys: Object.keys(anthropicMessagesRequest.shape),
    body: {
      model: 'claude-sonnet-5-5',
      max_tokens: 64,
      system: [{ type: 'text', text: 'be brief' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'lookup', input: { q: 'x' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }, { type: 'text', text: 'thanks' }] },
      ],
      tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
      tool_choice: { type: 'auto' },
    },
  },
  {
    path: MESSAGES,
    keys: Object.keys(anthropicMessagesRequest.shape),
    body: { model: 'gpt-4o', max_tokens: 32, stream: true, messages: [{ role: 'user', content: 'stream via anthropic' }] },
  },
  { path: EMBEDDINGS, keys: Object.keys(openAIEmbeddingRequest.shape), body: { model: 'bge-m3', input: ['first text', 'second text'], encoding_format: 'float' } },
  { path: CLASSIFY, keys: ['text', 'model', 'messages'], body: { text: 'call me at the office' } },
];

/** Raw JSON tokens spliced into the text where a value should be: things JSON.stringify cannot produce. */
const RAW_TOKEN = '"\u0000raw\u0000"';
const rawNumber = fc.constantFrom('1e999', '-1e999', '-0', '123456789012345678901234567890', '0.0000000000000000000001', '1E+2', '9007199254740993');

const wrongValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0, -1, 2 ** 31, 'NaN', 'Infinity', '-Infinity', '1e999', '', 'null', 'true'),
  nastyText,
  fc.constantFrom<Json>(new Array<Json>(5000).fill(0), new Array<Json>(3000).fill('x'), new Array<Json>(2000).fill({}), []),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

/** Every path in a JSON value, as key lists. */
function pathsOf(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) value.forEach((v, i) => {
    out.push([...prefix, i]);
    pathsOf(v, [...prefix, i], out);
  });
  else if (isRecord(value)) for (const [k, v] of Object.entries(value as { [key: string]: Json })) {
    out.push([...prefix, k]);
    pathsOf(v, [...prefix, k], out);
  }
  return out;
}

type Mutation =
  | { op: 'delete' | 'wrap' | 'duplicate'; pick: number }
  | { op: 'set'; pick: number; value: Json }
  | { op: 'raw'; pick: number; token: string }
  | { op: 'shape'; key: number; value: Json }
  | { op: 'unknown'; key: string; value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete' as const, 'wrap' as const, 'duplicate' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('set' as const), pick: fc.nat(), value: wrongValue }),
  fc.record({ op: fc.constant('raw' as const), pick: fc.nat(), token: rawNumber }),
  fc.record({ op: fc.constant('shape' as const), key: fc.nat(), value: wrongValue }),
  fc.record({ op: fc.constant('unknown' as const), key: fc.string({ maxLength: 12 }), value: wrongValue }),
);

/** Applies mutations to a copy of the body and serialises it, splicing raw tokens and duplicate keys into the text. */
function mutate(base: { body: { [key: string]: Json }; keys: readonly string[] }, mutations: readonly Mutation[]): string {
  const body = structuredClone(base.body) as { [key: string]: Json };
  const raws: string[] = [];
  const duplicates: Array<[string, Json]> = [];
  for (const mut of mutations) {
    // fast-check hands out the same constant arrays to every run: a later mutation that
    // edits inside one must edit a copy, or runs build cycles and, through shared
    // references, bodies that grow without bound (the test process once ran out of heap).
    const m = 'value' in mut ? { ...mut, value: structuredClone(mut.value) } : mut;
    if (m.op === 'shape') {
      body[base.keys[m.key % base.keys.length]!] = m.value;
      continue;
    }
    if (m.op === 'unknown') {
      body[m.key] = m.value;
      continue;
    }
    const paths = pathsOf(body);
    if (paths.length === 0) continue;
    const path = paths[m.pick % paths.length]!;
    const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as { [key: string]: Json })[k as string] as Json, body) as { [key: string]: Json } | Json[];
    const key = path[path.length - 1]!;
    const current = (parent as { [key: string]: Json })[key as string] as Json;
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
    } else if (m.op === 'wrap') (parent as { [key: string]: Json })[key as string] = [current];
    else if (m.op === 'set') (parent as { [key: string]: Json })[key as string] = m.value;
    else if (m.op === 'raw') {
      (parent as { [key: string]: Json })[key as string] = RAW_TOKEN.slice(1, -1);
      raws.push(m.token);
    } else if (path.length === 1) duplicates.push([key as string, current]);
  }
  let text = JSON.stringify(body);
  for (const token of raws) text = text.replace(RAW_TOKEN.replace(/\u0000/g, '\\u0000'), token);
  // A repeated key: JSON.parse keeps the last, so the duplicate goes first with a different value.
  for (const [key, value] of duplicates) text = `{${JSON.stringify(key)}:${JSON.stringify(value === null ? 1 : [value])},${text.slice(1)}`;
  return text;
}

describe('fuzzing the HTTP edge of a real gateway', () => {
  let stack: TestStack;
  let dir: string;
  let dbPath: string;
  let sequence = 0;
  /** Request ids sent to inference routes and answered: each must leave exactly one record. */
  const inference: string[] = [];
  const guard = guardProcess();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'perimeter-fuzz-http-'));
    dbPath = join(dir, 'records.db');
    stack = await startStack({
      bodyLimitBytes: BODY_LIMIT,
      extraYaml: `records: { store: { kind: sqlite, path: ${dbPath} }, queue: { flushIntervalMs: 20, spillPath: ${join(dir, 'spill.jsonl')} } }`,
    });
  });

  after(async () => {
    guard.dispose();
    await stack.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function send(path: string, body: Buffer | string, headers: Record<string, string | undefined> = {}): Promise<RawResponse> {
    const id = `fuzz-http-${++sequence}`;
    const res = await rawPost(stack.url, path, body, { authorization: `Bearer ${TEST_KEY}`, 'x-request-id': id, ...headers });
    if (operationOf(path) !== undefined) inference.push(id);
    return res;
  }

  /** Refused: 4xx with the route's own envelope. */
  function assertRefused(path: string, res: RawResponse, context: string): void {
    assert.ok(res.status >= 400 && res.status < 500, `${context}: status ${res.status}: ${res.text.slice(0, 300)}`);
    assertErrorEnvelope(apiOf(path), res, context);
  }

  /** Refused as above, or (a mutation that stayed valid) a complete answer; never a 5xx. */
  function assertAnswered(path: string, res: RawResponse, context: string): void {
    if (res.status >= 400) return assertRefused(path, res, context);
    assert.equal(res.status, 200, `${context}: status ${res.status}`);
    if (String(res.headers['content-type']).startsWith('text/event-stream')) {
      // A stream that started ends with its protocol's last frame, or with an error event.
      const ended = apiOf(path) === 'anthropic' ? /event: (message_stop|error)\n/.test(res.text) : /data: \[DONE\]\n\n$|"error":/.test(res.text);
      assert.ok(ended, `${context}: stream did not end properly: ${res.text.slice(-300)}`);
    } else {
      assert.doesNotThrow(() => JSON.parse(res.text), `${context}: 200 body is not JSON`);
    }
  }

  async function assertAlive(): Promise<void> {
    const res = await send(CHAT, JSON.stringify({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'still there?' }] }));
    assert.equal(res.status, 200, `gateway stopped answering: ${res.status} ${res.text.slice(0, 200)}`);
    assert.match(res.text, /You said: still there\?/);
  }

  it('refuses random bytes, random JSON and truncated bodies with a 4xx envelope of the route', async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
      fc.jsonValue({ maxDepth: 4 }).filter((v) => !isRecord(v)).map((v) => Buffer.from(JSON.stringify(v))),
      fc.tuple(fc.constantFrom(...BASES), fc.nat()).map(([b, cut]) => {
        const text = JSON.stringify(b.body);
        return Buffer.from(text.slice(0, cut % text.length));
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), garbage, async (path, body) => {
        const res = await send(path, body);
        assertRefused(path, res, `${path} <- ${body.length} garbage bytes`);
      }),
      params(60),
    );
    await assertAlive();
  });

  it('answers random JSON objects without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), async (path, body) => {
        const res = await send(path, JSON.stringify(body));
        assertAnswered(path, res, `${path} <- random object`);
      }),
      params(40),
    );
  });

  it('answers valid requests mutated field by field (dropped, retyped, duplicated, wrapped, huge, unknown) without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BASES), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (base, mutations) => {
        const text = mutate(base, mutations);
        const res = await send(base.path, text);
        assertAnswered(base.path, res, `${base.path} <- ${JSON.stringify(mutations).slice(0, 300)}`);
      }),
      params(150),
    );
    await assertAlive();
  });

  it('accepts or refuses invalid UTF-8 inside and outside strings, never with a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BASES), invalidUtf8, fc.nat(), fc.boolean(), async (base, bad, at, inString) => {
        const text = JSON.stringify(base.body);
        // Inside a string: just after an opening quote of some value; outside: anywhere.
        const quotes = [...text.matchAll(/:"/g)].map((m) => (m.index ?? 0) + 2);
        const cut = inString && quotes.length > 0 ? quotes[at % quotes.length]! : at % (text.length + 1);
        const body = Buffer.concat([Buffer.from(text.slice(0, cut)), bad, Buffer.from(text.slice(cut))]);
        const res = await send(base.path, body);
        assertAnswered(base.path, res, `${base.path} <- ${bad.toString('hex')} at ${cut}`);
      }),
      params(50),
    );
    await assertAlive();
  });

  it('handles escaped lone surrogates, NUL, RTL and zero-width characters in every text field', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BASES), nastyText, fc.nat(), async (base, nasty, pick) => {
        const body = structuredClone(base.body) as { [key: string]: Json };
        const strings = pathsOf(body).filter((p) => typeof p.reduce<Json>((v, k) => (v as { [key: string]: Json })[k as string] as Json, body) === 'string');
        const path = strings[pick % strings.length]!;
        const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as { [key: string]: Json })[k as string] as Json, body) as { [key: string]: Json };
        const key = path[path.length - 1] as string;
        parent[key] = `${String(parent[key])}${nasty}`;
        // JSON.stringify escapes lone surrogates as \udxxx, so they arrive escaped, as clients send them.
        const res = await send(base.path, JSON.stringify(body));
        assertAnswered(base.path, res, `${base.path} <- ${JSON.stringify(nasty)} in ${path.join('.')}`);
      }),
      params(50),
    );
  });

  it('refuses bodies that are not JSON by content-type with 415, whatever the body', async () => {
    const types = fc.constantFrom<string | undefined>(
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/xml',
      'application/octet-stream',
      'application/jsonx',
      'image/png',
      'json',
      '',
      undefined,
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BASES), types, async (base, type) => {
        const res = await send(base.path, JSON.stringify(base.body), { 'content-type': type });
        assertRefused(base.path, res, `${base.path} with content-type ${String(type)}`);
        assert.ok(res.status === 415 || res.status === 400, `${String(type)}: ${res.status}`);
      }),
      params(30),
    );
    // JSON with parameters or in capitals is still JSON.
    for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
      const res = await send(CHAT, JSON.stringify({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'typed' }] }), { 'content-type': type });
      assert.equal(res.status, 200, `${type}: ${res.text.slice(0, 200)}`);
    }
  });

  it('refuses 100k-level nesting anywhere in the body with 400', async () => {
    const N = 100_000;
    const deepArray = '['.repeat(N) + ']'.repeat(N);
    const deepObject = '{"a":'.repeat(N) + '1' + '}'.repeat(N);
    const splice = (body: object, deep: string): string => JSON.stringify(body).replace('"__deep__"', deep);
    const cases: Array<[Endpoint, string]> = [];
    for (const path of ENDPOINTS) cases.push([path, deepArray], [path, deepObject]);
    cases.push(
      [CHAT, splice({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { p: '__deep__' } } }] }, deepArray)],
      [CHAT, splice({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { p: '__deep__' } } } }, deepObject)],
      [MESSAGES, splice({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f', input: { p: '__deep__' } }] }, { role: 'user', content: 'x' }] }, deepObject)],
      [MESSAGES, splice({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'f', input_schema: { p: '__deep__' } }] }, deepArray)],
      [CLASSIFY, splice({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { p: '__deep__' } } }] }, deepArray)],
      // Just past the limit, where the schema itself would still cope: refused all the same.
      [CHAT, splice({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { p: '__deep__' } } }] }, '['.repeat(300) + ']'.repeat(300))],
    );
    for (const [path, body] of cases) {
      const res = await send(path, body);
      assertRefused(path, res, `${path} <- ${body.length} bytes nested`);
      assert.equal(res.status, 400);
    }
    // Nesting a real tool schema might use is accepted.
    const ok = await send(CHAT, splice({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { p: '__deep__' } } }] }, '['.repeat(100) + ']'.repeat(100)));
    assert.equal(ok.status, 200, ok.text.slice(0, 200));
    await assertAlive();
  });

  it('serves or refuses tool-call arguments nested 100k levels deep, scanning them whole', async () => {
    for (const deep of ['['.repeat(100_000) + '"jane.doe@acme-corp.io"' + ']'.repeat(100_000), '{"a":'.repeat(100_000) + '"jane.doe@acme-corp.io"' + '}'.repeat(100_000)]) {
      const body = {
        model: 'llama-3.1-8b-instruct',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: deep } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        ],
      };
      const served = await send(CHAT, JSON.stringify(body));
      assert.equal(served.status, 200, served.text.slice(0, 200));
      const classified = await send(CLASSIFY, JSON.stringify(body));
      assert.equal(classified.status, 200, classified.text.slice(0, 200));
      const result = JSON.parse(classified.text) as { level: string; findings: Array<{ entity: string }> };
      assert.ok(result.findings.some((f) => f.entity === 'EMAIL_ADDRESS'), 'the e-mail deep inside is still found');
      // The public model is refused: the e-mail makes it confidential, which may not go there here.
      const refused = await send(CHAT, JSON.stringify({ ...body, model: 'gpt-4.1-mini' }));
      assertRefused(CHAT, refused, 'deep arguments to a public model');
    }
  });

  it('refuses a body one byte over the limit with 413, on every route', async () => {
    for (const path of ENDPOINTS) {
      const over = `{"text":"${'a'.repeat(BODY_LIMIT - 10)}"}`;
      assert.equal(Buffer.byteLength(over), BODY_LIMIT + 1);
      const res = await send(path, over);
      assertRefused(path, res, `${path} over the limit`);
      assert.equal(res.status, 413);
    }
    // Exactly at the limit is read (and then judged on its content).
    const at = `{"text":"${'a'.repeat(BODY_LIMIT - 11)}"}`;
    const res = await send(CLASSIFY, at);
    assert.equal(res.status, 200, res.text.slice(0, 200));
  });

  it('answers huge arrays and numbers without a 5xx', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'a' }));
    const cases: Array<[Endpoint, string]> = [
      [CHAT, JSON.stringify({ model: 'llama-3.1-8b-instruct', messages: [...many, { role: 'user', content: 'last' }] })],
      [CHAT, JSON.stringify({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }], stop: Array.from({ length: 5000 }, () => 's') })],
      [EMBEDDINGS, JSON.stringify({ model: 'bge-m3', input: Array.from({ length: 2049 }, () => 'x') })],
      [EMBEDDINGS, JSON.stringify({ model: 'bge-m3', input: Array.from({ length: 2048 }, (_, i) => `text ${i}`) })],
      [MESSAGES, JSON.stringify({ model: 'claude-sonnet-5-5', max_tokens: 5, messages: [{ role: 'user', content: Array.from({ length: 20_000 }, () => ({ type: 'text', text: 'b' })) }] })],
      [CHAT, '{"model":"llama-3.1-8b-instruct","max_tokens":1e999,"messages":[{"role":"user","content":"x"}]}'],
      [CHAT, '{"model":"llama-3.1-8b-instruct","max_tokens":123456789012345678901234567890,"messages":[{"role":"user","content":"x"}]}'],
      [CHAT, '{"model":"llama-3.1-8b-instruct","temperature":-0,"seed":-9007199254740993,"messages":[{"role":"user","content":"x"}]}'],
      [MESSAGES, '{"model":"claude-sonnet-5-5","max_tokens":1e308,"messages":[{"role":"user","content":"x"}]}'],
      [EMBEDDINGS, '{"model":"bge-m3","input":"x","dimensions":1e999}'],
      [CLASSIFY, JSON.stringify({ text: '4111 1111 1111 1111 '.repeat(40_000) })],
    ];
    for (const [path, body] of cases) {
      const res = await send(path, body);
      assertAnswered(path, res, `${path} <- ${body.slice(0, 80)}… (${body.length} bytes)`);
    }
    await assertAlive();
  });

  it('survives broken framing on the socket', async () => {
    const head = (length: number, extra = ''): string =>
      `POST ${CHAT} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TEST_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra}\r\n`;
    const body = '{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"x"}]}';
    const answers = [
      await rawSocket(stack.url, Buffer.from(head(body.length + 50) + body)),
      await rawSocket(stack.url, Buffer.from(head(5) + body)),
      await rawSocket(stack.url, Buffer.from(head(body.length, 'transfer-encoding: chunked\r\n') + body)),
      await rawSocket(stack.url, Buffer.from(`POST ${CHAT} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`)),
      await rawSocket(stack.url, Buffer.concat([Buffer.from(`POST ${CHAT} HTTP/1.1\r\nhost: x\r\nx-bad: `), Buffer.from([0xff, 0x00, 0x0a]), Buffer.from('\r\n\r\n')])),
    ];
    for (const answer of answers) {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      if (status !== undefined) assert.ok(Number(status) < 500, `framing answer: ${answer.slice(0, 200)}`);
    }
    await assertAlive();
  });

  it('left no unhandled rejection and exactly one decision record per inference request', async () => {
    await assertAlive();
    guard.check();
    await stack.close(); // drains the record queue
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db.prepare('SELECT request_id AS id, COUNT(*) AS n FROM decision_records GROUP BY request_id').all() as Array<{ id: string; n: number }>;
      const audit = db
        .prepare("SELECT json_extract(entry, '$.subject') AS id, COUNT(*) AS n FROM audit_log WHERE kind = 'decision' GROUP BY id")
        .all() as Array<{ id: string; n: number }>;
      const records = new Map(rows.map((r) => [r.id, r.n]));
      const audits = new Map(audit.map((r) => [r.id, r.n]));
      const missing = inference.filter((id) => records.get(id) !== 1);
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${inference.length} inference requests without exactly one record`);
      const unaudited = inference.filter((id) => audits.get(id) !== 1);
      assert.deepEqual(unaudited.slice(0, 10), [], `${unaudited.length} of ${inference.length} without exactly one decision audit entry`);
      // And nothing else: classify calls make no decision, so they leave no record.
      assert.equal(rows.filter((r) => r.id.startsWith('fuzz-http-')).length, inference.length);
    } finally {
      db.close();
    }
  });
});
