import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_DOCUMENTS, startGatewayProcess, stopProcesses, writeFederationDemo, type FederationFiles } from '../../src/cli/federation-demo.js';
import { SqliteAuditStore } from '../../src/record/sqlite/sqlite-store.js';
import { startDevIssuer, type DevIssuerHandle } from '../../src/simulator/oidc.js';
import { startSimulator } from '../../src/simulator/server.js';
import type { SimulatorHandle } from '../../src/simulator/types.js';
import { cliPath } from '../helpers/paths.js';
import { freePort } from '../helpers/ports.js';

/*
 * Three gateway processes on loopback — cloud, onprem and branch — joined by mTLS with
 * certificates made for this test, one OIDC issuer, real SQLite records and audit trails,
 * and simulated backends that record what reached them.
 */


interface Json {
  [key: string]: unknown;
}

async function call(base: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Json, headers: res.headers };
}

interface Hit {
  baseId: string;
  deploymentId: string;
  documentId: string;
  snippet: string;
  redacted: Record<string, number>;
}

interface Status {
  id: string;
  status: string;
  reason?: string;
}

/** One raw mTLS request to a federation listener, with whatever client identity the test chooses. */
function peerRequest(port: number, ca: string, identity: { cert?: string; key?: string }): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/federation/v1/bases.list',
        ca: readFileSync(ca),
        ...(identity.cert === undefined ? {} : { cert: readFileSync(identity.cert), key: readFileSync(identity.key ?? '') }),
        headers: { 'content-type': 'application/json', 'x-perimeter-correlation-id': 'test-correlation-1' },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (err) => resolve({ error: err.message }));
    req.end('{}');
  });
}

async function auditOf(path: string): Promise<{ action: string; subject: string | null; outcome: string; actor: string; data: Json }[]> {
  const store = new SqliteAuditStore(path);
  try {
    const rows = await store.scan(0, 100_000);
    return rows.map((r) => r.entry as { action: string; subject: string | null; outcome: string; actor: string; data: Json });
  } finally {
    await store.close();
  }
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('federation across three gateway processes', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-federation-'));
  let issuer: DevIssuerHandle;
  let sims: { onprem: SimulatorHandle; privateCloud: SimulatorHandle; publicApi: SimulatorHandle };
  let files: FederationFiles;
  const procs: ChildProcess[] = [];
  let cloud = '';
  let onprem = '';
  let branch = '';
  let ports: { cloud: { api: number; federation: number }; onprem: { api: number; federation: number }; branch: { api: number; federation: number } };
  const tokens: Record<string, string> = {};

  before(async () => {
    issuer = await startDevIssuer();
    sims = {
      onprem: await startSimulator({ name: 'onprem' }),
      privateCloud: await startSimulator({ name: 'private-cloud' }),
      publicApi: await startSimulator({ name: 'public-api' }),
    };
    ports = {
      cloud: { api: await freePort(), federation: await freePort() },
      onprem: { api: await freePort(), federation: await freePort() },
      branch: { api: await freePort(), federation: await freePort() },
    };
    files = writeFederationDemo({
      dir,
      issuer: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, audience: issuer.audience },
      ports,
      sims: { onprem: sims.onprem.url, privateCloud: sims.privateCloud.url, publicApi: sims.publicApi.url },
      // Small enough to reach in a test, large enough for every other step.
      peerRateLimit: { requestsPerMinute: 30, burst: 40 },
      logLevel: 'warn',
    });
    const [c, o, b] = await Promise.all([
      startGatewayProcess(cliPath, files.configs.cloud, ports.cloud.api),
      startGatewayProcess(cliPath, files.configs.onprem, ports.onprem.api),
      startGatewayProcess(cliPath, files.configs.branch ?? '', ports.branch.api),
    ]);
    procs.push(c, o, b);
    cloud = `http://127.0.0.1:${ports.cloud.api}`;
    onprem = `http://127.0.0.1:${ports.onprem.api}`;
    branch = `http://127.0.0.1:${ports.branch.api}`;
    tokens.alice = await issuer.token({ sub: 'alice', groups: ['staff', 'clinical'] });
    tokens.bob = await issuer.token({ sub: 'bob', groups: ['staff'] });
    tokens.dave = await issuer.token({ sub: 'dave', groups: [] });
    tokens.carol = await issuer.token({ sub: 'carol', groups: ['kb-admins', 'staff', 'clinical'] });
    tokens.erin = await issuer.token({ sub: 'erin', groups: ['kb-admins', 'staff'] });
    for (const doc of DEMO_DOCUMENTS) {
      const home = doc.deployment === 'cloud' ? cloud : onprem;
      const res = await call(home, `/v1/bases/${doc.baseId}/documents`, tokens.carol ?? '', { documentId: doc.documentId, title: doc.title, mediaType: 'text/markdown', text: doc.text });
      assert.equal(res.status, 201, JSON.stringify(res.json));
    }
  });

  after(async () => {
    await stopProcesses(procs);
    await issuer?.close();
    await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a search across both deployments returns bounded, masked snippets and never a full document', async () => {
    const res = await call(cloud, '/v1/bases/search', tokens.alice ?? '', { query: 'travel', limit: 10 }, { 'x-perimeter-correlation-id': 'corr-search-0001' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const hits = res.json.hits as Hit[];
    const deployments = res.json.deployments as Status[];
    assert.deepEqual(deployments.map((d) => `${d.id}:${d.status}`).sort(), ['cloud:ok', 'onprem:ok']);
    const from = new Set(hits.map((h) => `${h.deploymentId}/${h.baseId}`));
    assert.ok(from.has('onprem/handbook'), JSON.stringify(hits));
    assert.ok(from.has('onprem/clinical-notes'), JSON.stringify(hits));
    assert.ok(from.has('cloud/product-docs'), JSON.stringify(hits));
    for (const hit of hits) {
      assert.ok(hit.snippet.length <= 300, `snippet of ${hit.snippet.length} chars`);
      const full = DEMO_DOCUMENTS.find((d) => d.documentId === hit.documentId)?.text ?? '';
      if (full.length > 300) assert.notEqual(hit.snippet, full);
    }
    // The clinical note's identifiers are masked before the snippet leaves on-prem.
    const clinical = hits.find((h) => h.baseId === 'clinical-notes');
    assert.ok(clinical !== undefined);
    assert.ok(!clinical.snippet.includes('536-90-4399'), clinical.snippet);
    assert.ok(Object.keys(clinical.redacted).length > 0, JSON.stringify(clinical));

    // A full document comes only from its home deployment.
    const remote = await call(cloud, '/v1/bases/clinical-notes/documents/ward-7-handover', tokens.alice ?? '');
    assert.equal(remote.status, 404);
    const home = await call(onprem, '/v1/bases/clinical-notes/documents/ward-7-handover', tokens.alice ?? '');
    assert.equal(home.status, 200, JSON.stringify(home.json));
    assert.ok(String(home.json.text).includes('pneumonia'));
  });

  it('permissions filter results on each side', async () => {
    const bob = await call(cloud, '/v1/bases/search', tokens.bob ?? '', { query: 'travel', limit: 10 });
    assert.equal(bob.status, 200);
    const bobBases = new Set((bob.json.hits as Hit[]).map((h) => h.baseId));
    assert.ok(bobBases.has('handbook') && bobBases.has('product-docs'), JSON.stringify(bob.json));
    assert.ok(!bobBases.has('clinical-notes'), 'bob is not in the clinical group on the on-prem side');

    const dave = await call(cloud, '/v1/bases/search', tokens.dave ?? '', { query: 'travel', limit: 10 });
    assert.equal(dave.status, 200);
    assert.deepEqual(dave.json.hits, []);

    const listed = await call(cloud, '/v1/bases', tokens.bob ?? '');
    const ids = (listed.json.data as { id: string; deploymentId: string; local: boolean }[]).map((b) => `${b.deploymentId}/${b.id}:${b.local}`).sort();
    assert.deepEqual(ids, ['cloud/policies:true', 'cloud/product-docs:true', 'onprem/handbook:false']);

    // An API key means nothing in another deployment: such callers see their own deployment only.
    const models = await call(cloud, '/v1/models', tokens.alice ?? '');
    const deploymentsOf = new Set((models.json.data as { perimeter: { deployment: string } }[]).map((m) => m.perimeter.deployment));
    assert.deepEqual([...deploymentsOf].sort(), ['cloud', 'onprem'], 'the unified catalogue lists the peer\'s models with their deployment');
  });

  it('a peer without a valid client certificate is refused', async () => {
    const port = ports.onprem.federation;
    const none = await peerRequest(port, files.pki.ca, {});
    assert.ok('error' in none || none.status >= 400, JSON.stringify(none));
    assert.ok(!('status' in none && none.status === 200));
    const rogue = await peerRequest(port, files.pki.ca, { cert: files.pki.rogue.cert, key: files.pki.rogue.key });
    assert.ok('error' in rogue, `a certificate from an untrusted CA must fail the handshake: ${JSON.stringify(rogue)}`);
    const stranger = await peerRequest(port, files.pki.ca, { cert: files.pki.stranger.cert, key: files.pki.stranger.key });
    assert.ok('status' in stranger && stranger.status === 403, JSON.stringify(stranger));
    assert.match('body' in stranger ? stranger.body : '', /peer_unknown/);
  });

  it('the audit entries of a cross-deployment call match on both sides', async () => {
    const correlation = 'corr-audit-0002';
    const res = await call(cloud, '/v1/bases/search', tokens.alice ?? '', { query: 'meal allowance', limit: 5, bases: ['handbook'] }, { 'x-perimeter-correlation-id': correlation });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.ok((res.json.hits as Hit[]).length > 0);
    const find = async (path: string, direction: string): Promise<{ action: string; subject: string | null; actor: string; data: Json }> =>
      eventually(`${direction} audit entry`, async () => (await auditOf(path)).find((e) => e.subject === correlation && e.data.direction === direction && e.data.peer === (direction === 'outbound' ? 'onprem' : 'cloud')));
    const outbound = await find(files.records.cloud ?? '', 'outbound');
    const inbound = await find(files.records.onprem ?? '', 'inbound');
    assert.equal(outbound.action, 'federation.bases.search');
    assert.equal(inbound.action, outbound.action);
    assert.equal(inbound.actor, outbound.actor, 'both sides name the same end user');
    assert.equal(inbound.actor, 'alice');
    assert.equal(outbound.data.peer, 'onprem');
    assert.equal(inbound.data.peer, 'cloud');
    // Neither side recorded the query text.
    for (const e of [outbound, inbound]) assert.ok(!JSON.stringify(e).includes('meal allowance'));
    // The home deployment's own Bases entry carries the same correlation id.
    const basesEntry = (await auditOf(files.records.onprem ?? '')).find((e) => e.action === 'bases.search' && e.data.correlationId === correlation);
    assert.ok(basesEntry !== undefined);
    assert.equal(basesEntry.data.viaPeer, 'cloud');
  });

  it('retrieval-augmented chat over an on-prem Base stays on-prem', async () => {
    sims.onprem.clear();
    sims.publicApi.clear();
    sims.privateCloud.clear();
    const chat = await call(onprem, '/v1/chat/completions', tokens.bob ?? '', {
      model: 'llama-3.1-8b-instruct',
      messages: [{ role: 'user', content: 'What is the daily meal allowance on business trips?' }],
      perimeter: { bases: ['handbook'] },
    });
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
    assert.equal(chat.headers.get('x-perimeter-tier'), 'on-prem');
    const got = sims.onprem.received().find((r) => r.path.endsWith('/chat/completions'));
    const sent = JSON.stringify(got?.body ?? {});
    assert.match(sent, /meal allowance/);
    assert.match(sent, /base handbook/);
    assert.ok(!sent.includes('"perimeter"'), 'the extension is never forwarded');

    // From the cloud: the handbook grants the cloud retrieval, so snippets come over, but
    // context from an on-prem Base may not reach a public model.
    const fromCloud = await call(cloud, '/v1/chat/completions', tokens.bob ?? '', {
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'What is the daily meal allowance on business trips?' }],
      perimeter: { bases: ['handbook'] },
    });
    assert.equal(fromCloud.status, 403, JSON.stringify(fromCloud.json));
    assert.equal((fromCloud.json.error as { code: string }).code, 'model_not_permitted_for_data');
    assert.match((fromCloud.json.error as { message: string }).message, /handbook/);
    assert.equal(sims.publicApi.received().length, 0, 'nothing reached the public API');
    assert.equal(sims.privateCloud.received().length, 0);

    // An API key stays in its deployment: retrieval from a peer's Base is refused, not answered without context.
    const byKey = await call(cloud, '/v1/chat/completions', 'sk-perimeter-cloud-demo', {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'What is the daily meal allowance on business trips?' }],
      perimeter: { bases: ['handbook'] },
    });
    assert.equal(byKey.status, 403, JSON.stringify(byKey.json));
    assert.equal((byKey.json.error as { code: string }).code, 'forbidden');
    assert.equal(sims.privateCloud.received().length, 0);

    // clinical-notes does not grant the cloud retrieval: the cloud cannot use it at all.
    const clinical = await call(cloud, '/v1/chat/completions', tokens.alice ?? '', {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Summarise the ward handover' }],
      perimeter: { bases: ['clinical-notes'] },
    });
    assert.notEqual(clinical.status, 200, JSON.stringify(clinical.json));
    assert.equal(sims.privateCloud.received().length, 0);
  });

  it('a document moves between deployments only after a second person approves it', async () => {
    const requested = await call(onprem, '/v1/bases/moves', tokens.carol ?? '', { baseId: 'handbook', documentId: 'travel-expenses', toDeployment: 'cloud', toBase: 'policies' });
    assert.ok(requested.status === 200 || requested.status === 201, JSON.stringify(requested.json));
    const id = String(requested.json.id);
    const self = await call(onprem, `/v1/bases/moves/${id}/approve`, tokens.carol ?? '', {});
    assert.equal(self.status, 403, 'nobody approves their own move');
    const notApprover = await call(onprem, `/v1/bases/moves/${id}/approve`, tokens.bob ?? '', {});
    assert.equal(notApprover.status, 403);
    const approved = await call(onprem, `/v1/bases/moves/${id}/approve`, tokens.erin ?? '', {});
    assert.ok(approved.status === 200 || approved.status === 201, JSON.stringify(approved.json));
    assert.equal(approved.json.state, 'completed', JSON.stringify(approved.json));
    const atCloud = await call(cloud, '/v1/bases/policies/documents/travel-expenses', tokens.bob ?? '');
    assert.equal(atCloud.status, 200, JSON.stringify(atCloud.json));
    const gone = await call(onprem, '/v1/bases/handbook/documents/travel-expenses', tokens.bob ?? '');
    assert.equal(gone.status, 404);
    const onpremSteps = (await auditOf(files.records.onprem ?? '')).filter((e) => e.subject === id || e.data.moveId === id).map((e) => e.action);
    assert.ok(onpremSteps.includes('bases.move.request') && onpremSteps.includes('bases.move.complete'), onpremSteps.join(','));
    const cloudSteps = (await auditOf(files.records.cloud ?? '')).filter((e) => JSON.stringify(e).includes(id)).map((e) => e.action);
    assert.ok(cloudSteps.length > 0, 'the receiving side audits the move too');
  });

  it('a signed bundle syncs; one that does not verify is rejected', async () => {
    const health = async (base: string): Promise<Json> => (await call(base, '/admin/health', tokens.carol ?? '')).json;
    const applied = await eventually('onprem bundle', async () => {
      const b = (await health(onprem)).bundles as { appliedVersion?: number; publisher?: string } | undefined;
      return b?.appliedVersion !== undefined && b.appliedVersion > 0 ? b : undefined;
    });
    assert.equal(applied.publisher, 'cloud');
    const rejected = await eventually('branch rejection', async () => {
      const b = (await health(branch)).bundles as { appliedVersion?: number; lastError?: { reason: string } | null } | undefined;
      // A pull can fail to fetch while the cloud is still starting; the verdict on the bundle is what counts.
      return b?.lastError?.reason === 'bad_signature' || (b?.appliedVersion ?? 0) > 0 ? b : undefined;
    });
    assert.equal(rejected.lastError?.reason, 'bad_signature');
    assert.ok(!(rejected.appliedVersion !== undefined && rejected.appliedVersion > 0));
    const onpremAudit = await auditOf(files.records.onprem ?? '');
    assert.ok(onpremAudit.some((e) => e.action === 'bundle.apply'));
    const branchAudit = await auditOf(files.records.branch ?? '');
    assert.ok(branchAudit.some((e) => e.action === 'bundle.reject'));
    // The shared dictionary is in force on-prem.
    const classified = await call(onprem, '/v1/perimeter/classify', tokens.bob ?? '', { text: 'Status of BLUEHERON this week' });
    assert.equal(classified.status, 200, JSON.stringify(classified.json));
    assert.ok(JSON.stringify(classified.json).includes('PROJECT_CODENAME'), JSON.stringify(classified.json));
  });

  it('rate limits hold, and a peer that is gone is reported down while each side keeps working', async () => {
    // 50 searches at once against a bucket of at most 40 tokens: some must be refused.
    const results = await Promise.all(
      Array.from({ length: 50 }, () => call(cloud, '/v1/bases/search', tokens.bob ?? '', { query: 'laptop', limit: 3 })),
    );
    const statuses = results.map((r) => (r.json.deployments as Status[]).find((d) => d.id === 'onprem'));
    const limited = statuses.filter((s) => s?.reason === 'peer_rate_limited').length;
    const served = statuses.filter((s) => s?.status === 'ok').length;
    assert.ok(limited > 0, JSON.stringify(statuses.slice(0, 3)));
    assert.ok(served <= 40, `${served} calls served with a burst of 40`);
    assert.ok(results.every((r) => r.status === 200), 'rate-limited peers degrade the answer, not the request');

    const onpremProc = procs[1];
    assert.ok(onpremProc !== undefined);
    await stopProcesses([onpremProc]);
    const alone = await call(cloud, '/v1/bases/search', tokens.bob ?? '', { query: 'release', limit: 5 });
    assert.equal(alone.status, 200);
    const status = (alone.json.deployments as Status[]).find((d) => d.id === 'onprem');
    assert.ok(status !== undefined && status.status !== 'ok', JSON.stringify(alone.json.deployments));
    assert.ok((alone.json.hits as Hit[]).some((h) => h.baseId === 'product-docs'), 'local results still come back');
  });
});
