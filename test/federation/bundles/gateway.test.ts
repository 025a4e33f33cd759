import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compose } from '../../../src/compose.js';
import { loadConfig } from '../../../src/config/loader.js';
import { resolveGatewaySecret } from '../../../src/identity/gateway-secret.js';
import { bundleOverlay, signBundle, type SignedBundle } from '../../../src/federation/bundles/format.js';
import { createBundles } from '../../../src/federation/bundles/setup.js';
import { BundlePublisher } from '../../../src/federation/bundles/publisher.js';
import { BundleSubscriber } from '../../../src/federation/bundles/subscriber.js';
import { listen, type RunningGateway } from '../../../src/main.js';
import { SqliteAuditStore } from '../../../src/record/sqlite/sqlite-store.js';
import { startSimulator, type SimulatorHandle } from '../../../src/simulator/index.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { ed25519Pair, hqConfig, tempDir } from './support.js';

interface Reply {
  status: number;
  tier: string | null;
  json: { error?: { code?: string }; level?: string; findings?: { entity: string }[] };
}

async function post(url: string, path: string, body: unknown): Promise<Reply> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, tier: res.headers.get('x-perimeter-tier'), json: (await res.json()) as Reply['json'] };
}

const chat = (url: string): Promise<Reply> => post(url, '/v1/chat/completions', { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hello there' }] });
const classify = (url: string): Promise<Reply> => post(url, '/v1/perimeter/classify', { text: 'status of bluefalcon please' });

describe('bundles applied to a running gateway', () => {
  const tmp = tempDir();
  const hq = ed25519Pair();
  const file = join(tmp.dir, 'branch.yaml');
  const stateFile = join(tmp.dir, 'applied-bundle.json');
  const records = join(tmp.dir, 'records.db');
  let onPrem: SimulatorHandle;
  let publicApi: SimulatorHandle;
  let running: RunningGateway | undefined;
  let serve: () => Promise<unknown>;

  const publisher = new BundlePublisher({
    config: { signingKey: 'env:UNUSED', keyId: 'hq-1', include: ['dictionaries', 'policy'], stateFile: join(tmp.dir, 'hq-counter.json') },
    publisher: 'hq',
    signingKey: hq.privateKey,
    source: () => hqConfig(),
  });

  before(async () => {
    onPrem = await startSimulator({ name: 'on-prem' });
    publicApi = await startSimulator({ name: 'public-api' });
    writeFileSync(
      file,
      `
deployment: { id: branch }
server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 500 }
logging: { level: silent }
auth: { required: false }
records: { store: { kind: sqlite, path: ${records} }, queue: { spillPath: ${join(tmp.dir, 'spill.jsonl')} } }
bundles:
  subscribe:
    from: hq
    trustedKeys: [{ keyId: hq-1, publicKey: ${JSON.stringify(hq.publicPem)} }]
    stateFile: ${stateFile}
    intervalMs: 0
backends:
  - { id: onprem, tier: on-prem, region: eu, protocol: openai, baseUrl: "${onPrem.url}/v1", maxConcurrency: 8, models: [{ id: llama, capability: basic }] }
  - { id: public-openai, tier: public-api, region: us, protocol: openai, baseUrl: "${publicApi.url}/v1", models: [{ id: gpt-4.1-mini, capability: mid }] }
`,
    );
    serve = () => publisher.handlePull();
  });

  after(async () => {
    await running?.shutdown();
    await Promise.all([onPrem.close(), publicApi.close()]);
    tmp.cleanup();
  });

  /** What the composition root does: a gateway, and a subscriber that applies through it. */
  async function start(): Promise<{ running: RunningGateway; subscriber: BundleSubscriber }> {
    const loaded = loadConfig(file, {}, {});
    // The composition root builds the subscriber; the test only supplies the transport (a real publisher in-process).
    const gateway = await compose(loaded, { logger: createLogger('silent'), bundleSource: () => serve() });
    const subscriber = gateway.bundleSubscriber;
    assert.ok(subscriber !== undefined);
    return { running: await listen(gateway), subscriber };
  }

  it('a pulled bundle changes routing and detection at once; a tampered one changes nothing; a reload keeps it', async () => {
    const started = await start();
    running = started.running;
    const { url } = running;
    const before = await chat(url);
    assert.equal(before.status, 200);
    assert.equal(before.tier, 'public-api', 'public data may use the public model under the file policy');
    assert.ok(!(await classify(url)).json.findings?.some((f) => f.entity === 'PROJECT_CODENAME'));

    const outcome = await started.subscriber.pull();
    assert.equal(outcome.outcome, 'applied', JSON.stringify(outcome));
    const refused = await chat(url);
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error?.code, 'model_not_permitted_for_data', 'the shared policy keeps public data on-prem');
    const found = await classify(url);
    assert.ok(found.json.findings?.some((f) => f.entity === 'PROJECT_CODENAME'), JSON.stringify(found.json));
    assert.equal(found.json.level, 'confidential');

    // A bundle altered on the way: refused, and the gateway keeps the very same generation.
    const generation = running.gateway.live.current;
    const good = (await publisher.latest()) as SignedBundle & { content: { policy: { matrix: { public: { any: string[] } } } } };
    const tampered = structuredClone(good);
    tampered.version = good.version + 1;
    tampered.content.policy.matrix.public.any = ['public-api'];
    serve = async () => tampered;
    const rejected = await started.subscriber.pull();
    assert.equal(rejected.outcome === 'rejected' ? rejected.reason : rejected.outcome, 'content_hash_mismatch');
    assert.equal(running.gateway.live.current, generation);
    assert.equal((await chat(url)).status, 403);

    // Signed and well-formed, but its policy names a level this deployment does not have:
    // the merged config fails validation, and nothing is swapped.
    const misfit = signBundle(
      {
        publisher: 'hq',
        version: good.version + 1,
        createdAt: new Date().toISOString(),
        keyId: 'hq-1',
        content: { policy: hqConfig('classification: { levels: [public, internal, confidential, regulated, secret] }\npolicy: { matrix: { secret: { any: [on-prem] } } }').policy },
      },
      hq.privateKey,
    );
    serve = async () => misfit;
    const misfitOutcome = await started.subscriber.pull();
    assert.equal(misfitOutcome.outcome === 'rejected' ? misfitOutcome.reason : misfitOutcome.outcome, 'apply_failed');
    assert.match(misfitOutcome.outcome === 'rejected' ? misfitOutcome.detail : '', /secret/);
    assert.equal(running.gateway.live.current, generation);
    assert.equal(started.subscriber.status().appliedVersion, good.version);

    // SIGHUP re-reads the file, and the bundle stays on top of it.
    const reloaded = await running.gateway.reload();
    assert.ok(reloaded.ok, reloaded.problems.join('\n'));
    assert.notEqual(running.gateway.live.current, generation);
    assert.equal((await chat(url)).status, 403);
    assert.ok((await classify(url)).json.findings?.some((f) => f.entity === 'PROJECT_CODENAME'));
    serve = () => publisher.handlePull();
  });

  it('a restart re-applies the kept bundle before serving, and the audit trail holds both applies and the refusal', async () => {
    await running?.shutdown();
    running = undefined;
    const restarted = await start();
    running = restarted.running;
    assert.equal(restarted.subscriber.status().appliedVersion, 1);
    const refused = await chat(running.url);
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error?.code, 'model_not_permitted_for_data');
    assert.equal((await restarted.subscriber.pull()).outcome, 'unchanged');
    await running.shutdown();
    running = undefined;

    const store = new SqliteAuditStore(records);
    const rows = await store.scan(0, 10_000, { kind: 'federation' });
    await store.close();
    const entries = rows.map((r) => r.entry as { action: string; data: { reason?: string; version?: number; source?: string } });
    const summary = entries.map((e) => `${e.action}:${e.data.source ?? ''}:${e.data.reason ?? e.data.version ?? ''}`);
    assert.deepEqual(summary, ['bundle.apply:peer:1', 'bundle.reject:peer:content_hash_mismatch', 'bundle.reject:peer:apply_failed', 'bundle.apply:state:1']);
  });
});
