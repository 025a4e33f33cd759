import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { startGateway } from '../helpers/gateway.js';
import { openAIStreamText, parseRawResponse, spawnGateway, until, type GatewayProcess } from './support.js';

function words(prefix: string, n: number): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');
}

function configYaml(simUrl: string, dir: string, drainTimeoutMs: number, rules = '[]'): string {
  return `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: ${drainTimeoutMs} }
logging: { level: info }
auth: { required: false }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { flushIntervalMs: 50, spillPath: ${join(dir, 'spill.jsonl')} } }
policy:
  rules: ${rules}
backends:
  - { id: onprem, tier: on-prem, region: eu, protocol: openai, baseUrl: '${simUrl}/v1', maxConcurrency: 256, models: [{ id: m }, { id: m2 }] }
`;
}

interface Sent {
  id: string;
  response: Promise<Response>;
}

function chat(url: string, id: string, content: string, stream: boolean): Sent {
  const response = fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content }] }),
  });
  return { id, response };
}

/** One request on a fresh connection, written raw, so the test decides when it is sent. */
function rawRequest(url: string, head: string, body = ''): Promise<{ status: number; headers: Record<string, string>; body: string } | 'refused'> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', () => resolve('refused'));
    socket.once('connect', () => socket.write(`${head}\r\nhost: ${hostname}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
    socket.once('close', () => {
      if (chunks.length > 0) resolve(parseRawResponse(Buffer.concat(chunks)));
    });
  });
}

function recordedIds(dir: string): { request_id: string; status: string; error_code: string | null }[] {
  const db = new Database(join(dir, 'records.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT request_id, status, error_code FROM decision_records ORDER BY request_id').all() as { request_id: string; status: string; error_code: string | null }[];
  } finally {
    db.close();
  }
}

describe('drain on SIGTERM (real process)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let gw: GatewayProcess | undefined;

  before(async () => {
    // Paced streams: 25 words take about a second, 400 words far longer than the drain deadline.
    sim = await startSimulator({ name: 'on-prem', tokensPerSecond: 25 });
    dir = mkdtempSync(join(tmpdir(), 'perimeter-drain-'));
  });
  after(async () => {
    if (gw !== undefined && gw.child.exitCode === null) gw.child.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops accepting, finishes in-flight requests and streams, ends an over-deadline stream with an error event, records every request, exits 0', async () => {
    const file = join(dir, 'perimeter.yaml');
    writeFileSync(file, configYaml(sim.url, dir, 3000));
    gw = await spawnGateway(file);
    const { url } = gw;

    const streams = [0, 1, 2, 3].map((i) => chat(url, `drain-stream-${i}`, words(`s${i}w`, 25), true));
    const plain = [0, 1, 2].map((i) => chat(url, `drain-plain-${i}`, `plain ${i} [[sim:delay_ms=1200]]`, false));
    const long = chat(url, 'drain-long', words('long', 400), true);
    // A keep-alive connection busy with a slow request survives the listener closing.
    const { hostname, port } = new URL(url);
    const busy = connect({ host: hostname, port: Number(port) });
    const busyChunks: Buffer[] = [];
    busy.on('data', (c: Buffer) => busyChunks.push(c));
    const busyBody = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'busy [[sim:delay_ms=1500]]' }] });
    busy.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\nx-request-id: drain-busy\r\ncontent-length: ${Buffer.byteLength(busyBody)}\r\n\r\n${busyBody}`,
    );
    const busyClosed = new Promise<void>((resolve) => busy.once('close', () => resolve()));

    // Everything is in flight: streams have their headers, and the simulator has the others.
    const started = await Promise.all([...streams, long].map((s) => s.response));
    assert.ok(started.every((r) => r.status === 200));
    assert.ok(await until(() => sim.received().length >= 9), 'all requests reached the upstream');

    gw.child.kill('SIGTERM');
    assert.ok(await until(async () => (await rawRequest(url, 'GET /healthz HTTP/1.1')) === 'refused', 100, 20), 'new connections are refused once draining');

    const bodies = await Promise.all(started.map((r) => r.text()));
    for (let i = 0; i < 4; i++) {
      const { text, done, errors } = openAIStreamText(bodies[i] ?? '');
      assert.deepEqual(errors, [], `stream ${i} had no error`);
      assert.ok(done, `stream ${i} ended with [DONE]`);
      assert.equal(text, `You said: ${words(`s${i}w`, 25)}`, `stream ${i} is complete, not truncated`);
    }
    const longOut = openAIStreamText(bodies[4] ?? '');
    assert.equal(longOut.done, false);
    assert.deepEqual(
      longOut.errors.map((e) => e.code),
      ['shutting_down'],
      'the stream past the deadline ends with a final error event, not a silent cut',
    );
    assert.ok(longOut.text.startsWith('You said: long0 long1'), 'it had streamed part of its answer');
    for (const p of plain) {
      const res = await p.response;
      assert.equal(res.status, 200);
      const json = (await res.json()) as { choices: { message: { content: string } }[] };
      assert.match(json.choices[0]?.message.content ?? '', /^You said: plain \d/);
    }
    await busyClosed;
    const busyResponse = parseRawResponse(Buffer.concat(busyChunks));
    assert.equal(busyResponse.status, 200, 'the request in flight on a keep-alive connection is answered');
    assert.equal(busyResponse.headers.connection, 'close', 'and the connection is closed after it, not kept for more work');

    const exit = await gw.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, gw.output());

    const rows = recordedIds(dir);
    const want = [...streams, ...plain, long].map((s) => s.id).concat(['drain-busy']).sort();
    assert.deepEqual(
      rows.map((r) => r.request_id),
      want,
      'exactly one record per request, all flushed before exit',
    );
    assert.deepEqual(
      rows.filter((r) => r.error_code !== null).map((r) => [r.request_id, r.error_code]),
      [['drain-long', 'shutting_down']],
    );
  });
});

describe('reload on SIGHUP under load (real process)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let gw: GatewayProcess | undefined;

  before(async () => {
    sim = await startSimulator({ name: 'on-prem' });
    dir = mkdtempSync(join(tmpdir(), 'perimeter-sighup-'));
  });
  after(async () => {
    if (gw !== undefined && gw.child.exitCode === null) gw.child.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('swaps config and policy atomically with no dropped request; a broken file changes nothing', async () => {
    const file = join(dir, 'perimeter.yaml');
    writeFileSync(file, configYaml(sim.url, dir, 3000));
    gw = await spawnGateway(file);
    const { url } = gw;
    const load: Sent[] = [];
    // Waves of streaming and plain requests while the config changes under them.
    const wave = (n: number, tag: string): void => {
      for (let i = 0; i < 20; i++) load.push(chat(url, `hup-${tag}-${n}-${i}`, `load ${i} [[sim:delay_ms=100]]`, i % 2 === 0));
    };
    wave(0, 'a');
    writeFileSync(file, configYaml(sim.url, dir, 3000, `[{ id: deny-probe, when: { models: [m2] }, effects: { deny: { reason: probe closed } } }]`));
    gw.child.kill('SIGHUP');
    wave(1, 'a');
    const probe = async (): Promise<number> =>
      (
        await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm2', messages: [{ role: 'user', content: 'probe' }] }),
        })
      ).status;
    assert.ok(await until(async () => (await probe()) === 403, 100, 50), 'the new policy is in force after SIGHUP');
    writeFileSync(file, 'backends: [ this is not yaml');
    gw.child.kill('SIGHUP');
    wave(2, 'a');
    assert.ok(await until(() => /reload refused/.test(gw?.output() ?? ''), 100, 50), 'the broken file is refused and logged');
    assert.equal(await probe(), 403, 'a broken file changes nothing');
    const results = await Promise.all(load.map(async (s) => {
      const res = await s.response;
      const text = await res.text();
      return { id: s.id, status: res.status, complete: res.status === 200 && (text.includes('[DONE]') || text.includes('"finish_reason":"stop"')) };
    }));
    assert.deepEqual(results.filter((r) => !r.complete), [], 'no request was dropped or cut during the reloads');

    gw.child.kill('SIGTERM');
    assert.deepEqual(await gw.exited, { code: 0, signal: null });
    const ids = new Set(recordedIds(dir).map((r) => r.request_id));
    assert.deepEqual(load.map((s) => s.id).filter((id) => !ids.has(id)), [], 'each one has its record');
  });
});

describe('while draining (in process)', () => {
  it('readyz answers 503 and new inference requests get 503 shutting_down with Retry-After and a record', async () => {
    const sim = await startSimulator({ name: 'on-prem' });
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-draining-'));
    const stack = await startGateway(configYaml(sim.url, dir, 2000).replace('level: info', 'level: silent'), [sim]);
    try {
      assert.equal((await fetch(`${stack.url}/readyz`)).status, 200);
      stack.gateway.gateway.http.setDraining();
      const ready = await fetch(`${stack.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'draining' });
      assert.equal((await fetch(`${stack.url}/healthz`)).status, 200, 'liveness is unaffected');
      const refused = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'refused-draining' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'late' }] }),
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.equal(refused.headers.get('connection'), 'close');
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'shutting_down');
    } finally {
      await stack.close();
    }
    assert.deepEqual(recordedIds(dir), [{ request_id: 'refused-draining', status: 'failed', error_code: 'shutting_down' }]);
    rmSync(dir, { recursive: true, force: true });
  });
});
