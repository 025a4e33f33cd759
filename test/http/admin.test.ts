import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { compose } from '../../src/compose.js';
import { loadConfig } from '../../src/config/loader.js';
import { listen, type RunningGateway } from '../../src/main.js';
import { SqliteAuditStore } from '../../src/record/sqlite/sqlite-store.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';

const ADMIN = 'sk-perimeter-admin-0123456789';
const VIEWER = 'sk-perimeter-viewer-0123456789';
const USER = 'sk-perimeter-user-0123456789';

function configYaml(simUrl: string, dir: string, rules: string): string {
  return `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 2000 }
logging: { level: silent }
auth:
  required: true
  pepper: env:PERIMETER_PEPPER
  keyStore: { kind: sqlite, path: ${join(dir, 'keys.db')} }
  keys:
    - { id: admin, insecurePlaintext: ${ADMIN}, owner: ops, roles: [admin] }
    - { id: viewer, insecurePlaintext: ${VIEWER}, owner: ops, roles: [viewer] }
    - { id: user, insecurePlaintext: ${USER}, owner: app }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { flushIntervalMs: 20, spillPath: ${join(dir, 'spill.jsonl')} } }
policy:
  rules:${rules}
backends:
  - { id: onprem, tier: on-prem, region: eu, protocol: openai, baseUrl: '${simUrl}/v1', maxConcurrency: 64, models: [{ id: m }] }
`;
}

async function call(url: string, path: string, key: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${key}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('admin API', () => {
  let sim: SimulatorHandle;
  let gateway: RunningGateway;
  let dir: string;
  let file: string;

  before(async () => {
    sim = await startSimulator({});
    dir = mkdtempSync(join(tmpdir(), 'perimeter-admin-'));
    file = join(dir, 'perimeter.yaml');
    writeFileSync(file, configYaml(sim.url, dir, ' []'));
    const loaded = loadConfig(file, {}, { PERIMETER_PEPPER: 'pepper-for-tests-0123456789abcdef' });
    gateway = await listen(await compose(loaded, { logger: createLogger('silent') }));
  });
  after(async () => {
    await gateway.shutdown();
    await sim.close();
  });

  it('needs the admin role to write and admin or viewer to read', async () => {
    assert.equal((await call(gateway.url, '/admin/health', USER)).status, 403);
    const health = await call(gateway.url, '/admin/health', VIEWER);
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    assert.match(String(health.json.policyVersion), /^[0-9a-f]{12}$/);
    assert.equal((await call(gateway.url, '/admin/keys', VIEWER, { method: 'POST', body: { owner: 'x' } })).status, 403);
    const anonymous = await fetch(`${gateway.url}/admin/health`);
    assert.equal(anonymous.status, 401);
  });

  it('issues and revokes keys; the key value is shown once, never listed', async () => {
    const created = await call(gateway.url, '/admin/keys', ADMIN, { method: 'POST', body: { owner: 'new-app', team: 'payments' } });
    assert.equal(created.status, 201);
    const key = String(created.json.key);
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const listed = await call(gateway.url, '/admin/keys', VIEWER);
    assert.ok(!JSON.stringify(listed.json).includes(key), 'the listing never shows a key value');
    assert.equal((await call(gateway.url, `/admin/keys/${String(created.json.id)}`, ADMIN, { method: 'DELETE' })).status, 200);
    await assert.rejects(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.AuthenticationError);
  });

  it('reloads config and policy atomically, under load; a bad file changes nothing', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: USER, maxRetries: 0 });
    const before = String((await call(gateway.url, '/admin/health', VIEWER)).json.policyVersion);
    const original = readFileSync(file, 'utf8');

    // Requests in flight (slowed upstream) while the config is swapped: none may fail.
    const load = Array.from({ length: 40 }, (_, i) =>
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `load ${i} [[sim:delay_ms=150]]` }] }),
    );
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(file, configYaml(sim.url, dir, `\n    - { id: regulated-fast, when: { levels: [regulated] }, effects: { prefer: latency } }`));
    const swapped = await call(gateway.url, '/admin/reload', ADMIN, { method: 'POST' });
    assert.equal(swapped.status, 200, JSON.stringify(swapped.json));
    const results = await Promise.allSettled(load);
    assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), [], 'no request in flight was dropped');

    writeFileSync(file, configYaml(sim.url, dir, `\n    - { id: deny-greetings, when: { models: [m], workloads: [] }, effects: { deny: { reason: no } } }`));
    const invalid = await call(gateway.url, '/admin/reload', ADMIN, { method: 'POST' });
    assert.equal(invalid.status, 400, 'an empty workloads list is refused by the schema');
    writeFileSync(file, configYaml(sim.url, dir, `\n    - { id: deny-greetings, when: { models: [m] }, effects: { deny: { reason: greetings are closed } } }`));
    const reloaded = await call(gateway.url, '/admin/reload', ADMIN, { method: 'POST' });
    assert.equal(reloaded.status, 200, JSON.stringify(reloaded.json));
    assert.notEqual(String(reloaded.json.policyVersion), before);
    await assert.rejects(
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError && /deny-greetings/.test(err.message),
    );

    writeFileSync(file, 'backends: [ this is not yaml');
    const broken = await call(gateway.url, '/admin/reload', ADMIN, { method: 'POST' });
    assert.equal(broken.status, 400);
    await assert.rejects(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.PermissionDeniedError);

    writeFileSync(file, original);
    assert.equal((await call(gateway.url, '/admin/reload', ADMIN, { method: 'POST' })).status, 200);
    const ok = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(ok.choices[0]?.message.content, 'You said: hi');
  });

  it('every admin action is in the audit trail', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const store = new SqliteAuditStore(join(dir, 'records.db'));
    const entries = await store.scan(0, 10_000);
    await store.close();
    const actions = entries.map((e) => (e.entry as { action: string }).action);
    for (const action of ['key.create', 'key.revoke', 'config.reload']) assert.ok(actions.includes(action), `${action} in ${actions.join(',')}`);
  });
});
