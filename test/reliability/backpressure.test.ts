import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { startGateway, type CustomStack } from '../helpers/gateway.js';
import {
  openAIStreamText,
  parseRawResponse,
  pieceText,
  rawPost,
  startLongStreamUpstream,
  until,
  type LongStreamUpstream,
} from './support.js';

function recordsYaml(dir: string): string {
  return `records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { flushIntervalMs: 20, spillPath: ${join(dir, 'spill.jsonl')} } }`;
}

describe('backpressure: max in-flight requests', () => {
  let sim: SimulatorHandle;
  let stack: CustomStack;
  let dir: string;

  before(async () => {
    sim = await startSimulator({ name: 'on-prem' });
    dir = mkdtempSync(join(tmpdir(), 'perimeter-overload-'));
    stack = await startGateway(
      `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 2000, maxInFlight: 2 }
logging: { level: silent }
auth: { required: false }
backends:
  - { id: onprem, tier: on-prem, region: eu, protocol: openai, baseUrl: '${sim.url}/v1', maxConcurrency: 64, models: [{ id: m }] }
${recordsYaml(dir)}`,
      [sim],
    );
  });
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('beyond server.maxInFlight, inference requests get 503 overloaded with Retry-After in their protocol envelope, and a record each', async () => {
    // Two streams that stall after their first chunk hold both slots until the client leaves.
    const holders = await Promise.all(
      [0, 1].map(async (i) => {
        const controller = new AbortController();
        const res = await fetch(`${stack.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `hold ${i} [[sim:stall_after=1]]` }] }),
          signal: controller.signal,
        });
        assert.equal(res.status, 200);
        const reader = res.body?.getReader();
        await reader?.read();
        return { controller, reader };
      }),
    );
    assert.equal(stack.gateway.gateway.http.inFlight(), 2);

    const openai = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'overloaded-openai' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'one too many' }] }),
    });
    assert.equal(openai.status, 503);
    assert.equal(openai.headers.get('retry-after'), '1');
    const openaiBody = (await openai.json()) as { error: { code: string; type: string } };
    assert.equal(openaiBody.error.code, 'overloaded');

    const anthropic = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-request-id': 'overloaded-anthropic' },
      body: JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'one too many' }] }),
    });
    assert.equal(anthropic.status, 503);
    assert.equal(anthropic.headers.get('retry-after'), '1');
    const anthropicBody = (await anthropic.json()) as { type: string; error: { type: string; code: string } };
    assert.deepEqual([anthropicBody.type, anthropicBody.error.type, anthropicBody.error.code], ['error', 'overloaded_error', 'overloaded']);

    // Routes that are not inference are not counted: health and the model list still answer.
    assert.equal((await fetch(`${stack.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${stack.url}/v1/models`)).status, 200);

    for (const h of holders) h.controller.abort();
    assert.ok(await until(() => stack.gateway.gateway.http.inFlight() === 0), 'slots are released when the clients leave');
    const ok = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'room again' }] }),
    });
    assert.equal(ok.status, 200);
    await ok.json();

    const db = new Database(join(dir, 'records.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = (): { request_id: string; status: string }[] =>
        db.prepare(`SELECT request_id, status FROM decision_records WHERE error_code = 'overloaded' ORDER BY request_id`).all() as { request_id: string; status: string }[];
      assert.ok(await until(() => rows().length === 2), 'both refusals are recorded');
      assert.deepEqual(rows(), [
        { request_id: 'overloaded-anthropic', status: 'failed' },
        { request_id: 'overloaded-openai', status: 'failed' },
      ]);
    } finally {
      db.close();
    }
  });
});

describe('backpressure: a client that stops reading', () => {
  const PIECES = 24_000;
  const PADDING = 1_000;
  let upstream: LongStreamUpstream;
  let stack: CustomStack;
  let dir: string;
  const sockets: Socket[] = [];

  before(async () => {
    upstream = await startLongStreamUpstream(PIECES, PADDING);
    dir = mkdtempSync(join(tmpdir(), 'perimeter-slow-client-'));
    stack = await startGateway(
      `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 2000 }
logging: { level: silent }
auth: { required: false }
backends:
  - id: onprem
    tier: on-prem
    region: eu
    protocol: openai
    baseUrl: '${upstream.url}/v1'
    maxConcurrency: 8
    timeouts: { connectMs: 2000, firstByteMs: 10000, totalMs: 120000 }
    models: [{ id: m }]
${recordsYaml(dir)}`,
    );
    stack.gateway.gateway.http.app.server.on('connection', (s: Socket) => sockets.push(s));
  });
  after(async () => {
    await stack.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not buffer the stream: the upstream is slowed down, and the stream completes when the client resumes', async (t) => {
    assert.ok(upstream.total > 20 * 1024 * 1024, `a stream larger than every socket buffer on the way (${upstream.total} bytes)`);
    const client = await rawPost(stack.url, '/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'long' }] });
    // Read the head and a little of the body, then stop reading.
    assert.ok(await until(() => client.received().length > 0), 'the response starts');
    client.socket.pause();

    // Wait until the upstream cannot write any more: its count stops moving.
    let last = -1;
    let steady = 0;
    await until(async () => {
      const now = upstream.accepted();
      steady = now === last ? steady + 1 : 0;
      last = now;
      return steady >= 6;
    }, 300, 100);
    assert.ok(steady >= 6, 'the upstream stalled while the client was not reading');
    const stalledAt = upstream.accepted();
    assert.ok(stalledAt < upstream.total / 2, `the upstream could write only ${stalledAt} of ${upstream.total} bytes while the client was paused`);
    assert.equal(upstream.completed(), 0);
    // The gateway's own user-space buffer for the response stays small (a batch of frames, not the stream).
    const buffered = Math.max(...sockets.map((s) => s.writableLength));
    assert.ok(buffered < 1024 * 1024, `gateway buffered ${buffered} bytes for the paused client`);
    assert.equal(stack.gateway.gateway.http.inFlight(), 1);
    t.diagnostic(`paused client: upstream wrote ${stalledAt} of ${upstream.total} bytes; gateway socket buffer ${buffered} bytes`);

    client.socket.resume();
    await client.ended;
    const response = parseRawResponse(client.received());
    assert.equal(response.status, 200);
    const { text, done, errors } = openAIStreamText(response.body);
    assert.deepEqual(errors, []);
    assert.ok(done, 'the stream ends with [DONE]');
    const markers = [...text.matchAll(/<(\d+)>/g)].map((m) => Number(m[1]));
    assert.equal(markers.length, PIECES, 'every piece arrived');
    assert.ok(markers.every((n, i) => n === i), 'in order');
    const expected = Array.from({ length: PIECES }, (_, i) => pieceText(i, PADDING)).join('');
    assert.ok(text === expected, 'the text is exactly what the upstream sent');
    assert.equal(upstream.completed(), 1);
  });
});
