import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'undici';
import { z } from 'zod';
import { federationSchema, type FederationConfigInput, type PeerOperation } from '../../../src/federation/config.js';
import { PeerClient } from '../../../src/federation/peers/client.js';
import type { AuditEntry } from '../../../src/record/audit.js';
import { deployment, makeFederationPki, resolveSecret, TestIssuer, type Deployment, type FederationPki } from './support.js';

type PeerInput = NonNullable<FederationConfigInput['peers']>[number];

interface PairOptions {
  /** What B lets A call. */
  readonly bAllows?: PeerOperation[];
  /** What A may call on B. */
  readonly aCalls?: PeerOperation[];
  readonly rateLimit?: { requestsPerMinute: number; burst: number };
  readonly maxMessageBytes?: number;
  /** More peers for A (e.g. one that is down). */
  readonly aExtraPeers?: PeerInput[];
  readonly auditHealthChecks?: boolean;
}

interface Pair {
  readonly a: Deployment;
  readonly b: Deployment;
  close(): Promise<void>;
}

describe('federation peer transport', () => {
  let pki: FederationPki;
  const issuer = new TestIssuer();
  const dirs: string[] = [];

  before(async () => {
    pki = makeFederationPki();
    await issuer.start();
  });
  after(async () => {
    await issuer.stop();
    pki.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const pem = (name: string, kind: 'crt' | 'key'): string => readFileSync(join(pki.dir, `${name}.${kind}`), 'utf8');

  /** B (on-prem, ca-b) starts first; A (cloud, ca-a) is configured with B's address. */
  async function pair(options: PairOptions = {}): Promise<Pair> {
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-fed-'));
    dirs.push(dir);
    const b = await deployment('b', 'on-prem', {
      listen: { port: 0, tls: { cert: pki.ref('b', 'crt'), key: pki.ref('b', 'key') } },
      peers: [{
        id: 'a',
        zone: 'cloud',
        url: 'https://127.0.0.1:9',
        ca: pki.ref('ca-a', 'crt'),
        operations: options.bAllows ?? ['health', 'models', 'bases.search', 'bundles.pull'],
        rateLimit: options.rateLimit ?? { requestsPerMinute: 600, burst: 100 },
      }],
      healthIntervalMs: 0,
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
      auditHealthChecks: options.auditHealthChecks ?? false,
    }, issuer, dir);
    b.federation.handle('models', async (call) => ({ body: { models: ['llama-3.1-8b-instruct', 'gpt-4o'], forUser: call.principal?.id ?? null }, audit: { count: 2 } }));
    b.federation.handle('bases.search', async (call) => {
      const body = z.strictObject({ base: z.string(), query: z.string() }).parse(call.body);
      return { body: { base: body.base, hits: [] }, audit: { base: body.base, hits: 0 } };
    });
    b.federation.handle('bundles.pull', async (call) => ({ body: { bundles: [], principal: call.principal === undefined ? 'none' : 'user' } }));
    const a = await deployment('a', 'cloud', {
      // A trusts its own CA too, so a certificate from ca-a claiming to be b reaches the pin check.
      listen: { port: 0, tls: { cert: pki.ref('a', 'crt'), key: pki.ref('a', 'key'), ca: pki.ref('ca-a', 'crt') } },
      peers: [
        {
          id: 'b',
          zone: 'on-prem',
          url: b.url,
          ca: pki.ref('ca-b', 'crt'),
          operations: ['health'],
          calls: options.aCalls ?? ['health', 'models', 'bases.list', 'bases.search', 'bundles.pull'],
          timeoutMs: 3_000,
        },
        ...(options.aExtraPeers ?? []),
      ],
      healthIntervalMs: 0,
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
      auditHealthChecks: options.auditHealthChecks ?? false,
    }, issuer, dir);
    return {
      a,
      b,
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  }

  /** A hand-made mTLS call to a listener, for certificates the PeerClient would never present. */
  async function rawCall(url: string, operation: string, tls: { cert?: string; key?: string; ca: string }, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
    const client = new Client(url, { connect: { ...tls, rejectUnauthorized: true } });
    try {
      const res = await client.request({ method: 'POST', path: `/federation/v1/${operation}`, headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
      return { status: res.statusCode, body: await res.body.json(), headers: res.headers };
    } finally {
      await client.destroy();
    }
  }

  const byCorrelation = (entries: AuditEntry[], id: string): AuditEntry[] => entries.filter((e) => e.subject === id);

  it('A calls B as the end user; both audit trails hold one matching entry with the shared correlation id', async () => {
    const { a, b, close } = await pair();
    try {
      const token = await issuer.token('alice');
      // The user authenticated at A with the same token; A's actor is that principal.
      const user = await a.authenticator.authenticate({ authorization: `Bearer ${token}` });
      const correlationId = 'corr-models-0001';
      const result = await a.federation.client.call('b', 'models', {}, { token, correlationId, actor: user.id });
      assert.deepEqual(result, { ok: true, correlationId, body: { models: ['llama-3.1-8b-instruct', 'gpt-4o'], forUser: user.id } });

      const [outbound] = byCorrelation(await a.entries(), correlationId);
      const [inbound] = byCorrelation(await b.entries(), correlationId);
      assert.ok(outbound !== undefined && inbound !== undefined, 'both sides audited the call');
      assert.equal(byCorrelation(await a.entries(), correlationId).length, 1);
      assert.equal(byCorrelation(await b.entries(), correlationId).length, 1);
      for (const e of [outbound, inbound]) {
        assert.equal(e.kind, 'federation');
        assert.equal(e.action, 'federation.models');
        assert.equal(e.actor, user.id);
        assert.equal(e.outcome, 'success');
        assert.equal(e.data['status'], 200);
      }
      assert.equal(outbound.deploymentId, 'a');
      assert.equal(inbound.deploymentId, 'b');
      assert.deepEqual([outbound.data['direction'], outbound.data['peer'], outbound.data['zone']], ['outbound', 'b', 'on-prem']);
      assert.deepEqual([inbound.data['direction'], inbound.data['peer'], inbound.data['zone']], ['inbound', 'a', 'cloud']);
      assert.equal(inbound.data['count'], 2, 'the handler\'s audit fields are recorded');
      // Ids and counts only: nothing the handler answered is in the trail.
      assert.ok(!JSON.stringify(inbound).includes('llama'));
      assert.deepEqual(await a.audit.verify(), { ok: true, entries: 1, head: { seq: outbound.seq, hash: outbound.hash } });
      assert.equal((await b.audit.verify()).ok, true);
      assert.equal(a.federation.directory.snapshot()[0]?.status, 'up');
    } finally {
      await close();
    }
  });

  it('a handler validates its body: a bad body is 400 on both sides, a good one reaches it', async () => {
    const { a, b, close } = await pair();
    try {
      const token = await issuer.token('bob');
      const bad = await a.federation.client.call('b', 'bases.search', { base: 'handbook' }, { token, actor: 'bob' });
      assert.deepEqual(!bad.ok && [bad.status, bad.code, bad.httpStatus], ['error', 'invalid_request', 400]);
      assert.equal(byCorrelation(await b.entries(), bad.correlationId)[0]?.data['status'], 400);
      const good = await a.federation.client.call('b', 'bases.search', { base: 'handbook', query: 'leave policy' }, { token, actor: 'bob' });
      assert.deepEqual(good.ok && good.body, { base: 'handbook', hits: [] });
      const inbound = byCorrelation(await b.entries(), good.correlationId)[0];
      assert.equal(inbound?.data['base'], 'handbook');
      assert.ok(!JSON.stringify(inbound).includes('leave policy'), 'the query text is not audited');
    } finally {
      await close();
    }
  });

  it('a client without a certificate is refused in the TLS handshake and never audited', async () => {
    const { b, close } = await pair();
    try {
      const before = (await b.entries()).length;
      await assert.rejects(rawCall(b.url, 'health', { ca: pem('ca-b', 'crt') }));
      assert.equal((await b.entries()).length, before);
      assert.ok((b.federation.server?.tlsRefusals ?? 0) >= 1);
    } finally {
      await close();
    }
  });

  it('a certificate from a CA B does not trust is refused in the handshake, also through PeerClient', async () => {
    const { b, close } = await pair();
    try {
      await assert.rejects(rawCall(b.url, 'health', { cert: pem('rogue-a', 'crt'), key: pem('rogue-a', 'key'), ca: pem('ca-b', 'crt') }));
      // The same refusal as the calling side sees it: a down peer, audited, never an exception.
      const dir = mkdtempSync(join(tmpdir(), 'perimeter-fed-rogue-'));
      dirs.push(dir);
      const entries: unknown[] = [];
      const config = federationSchema.parse({
        client: { tls: { cert: pki.ref('rogue-a', 'crt'), key: pki.ref('rogue-a', 'key'), ca: pki.ref('ca-b', 'crt') } },
        peers: [{ id: 'b', zone: 'on-prem', url: b.url, operations: ['health'] }],
      });
      const rogue = new PeerClient({
        deploymentId: 'a',
        peers: config.peers,
        tls: { cert: resolveSecret(pki.ref('rogue-a', 'crt')), key: resolveSecret(pki.ref('rogue-a', 'key')), ca: resolveSecret(pki.ref('ca-b', 'crt')) },
        peerCas: new Map(),
        audit: { append: async (e) => entries.push(e) },
        maxMessageBytes: 1024,
        auditHealthChecks: false,
      });
      const result = await rogue.call('b', 'health', {}, { actor: 'system' });
      await rogue.close();
      assert.equal(result.ok, false);
      // B drops the connection without an alert the client could read: down, for whatever reason.
      assert.equal(!result.ok && result.status, 'down');
      assert.equal(entries.length, 1, 'a failed health call is audited even with health auditing off');
      assert.equal((await b.entries()).length, 0, 'nothing reached B\'s HTTP layer');
      // And the other way round: A checks B's certificate; a wrong CA for B is a TLS failure A can name.
      const wrongCa = new PeerClient({
        deploymentId: 'a',
        peers: config.peers,
        tls: { cert: resolveSecret(pki.ref('a', 'crt')), key: resolveSecret(pki.ref('a', 'key')), ca: resolveSecret(pki.ref('ca-a', 'crt')) },
        peerCas: new Map(),
        audit: { append: async (e) => entries.push(e) },
        maxMessageBytes: 1024,
        auditHealthChecks: false,
      });
      const unverified = await wrongCa.call('b', 'health', {}, { actor: 'system' });
      await wrongCa.close();
      assert.deepEqual(!unverified.ok && [unverified.status, unverified.code], ['down', 'peer_tls_failed']);
    } finally {
      await close();
    }
  });

  it('a valid certificate naming no configured peer is 403 peer_unknown, audited without its claims', async () => {
    const { b, close } = await pair();
    try {
      const res = await rawCall(b.url, 'health', { cert: pem('stranger', 'crt'), key: pem('stranger', 'key'), ca: pem('ca-b', 'crt') }, { 'x-perimeter-deployment': 'a' });
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, { error: { code: 'peer_unknown', message: 'The client certificate does not name a configured peer deployment.' } });
      const entries = await b.entries();
      assert.equal(entries.length, 1);
      const [e] = entries;
      assert.equal(e?.actor, 'peer:unknown', 'the x-perimeter-deployment header does not identify a caller');
      assert.equal(e?.data['peer'], null);
      assert.equal(e?.data['status'], 403);
      assert.match(String(e?.data['certFingerprint']), /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
      assert.equal(e?.subject, res.headers['x-perimeter-correlation-id']);
    } finally {
      await close();
    }
  });

  it('a certificate claiming to be b from a CA that is not b\'s is refused by the pin', async () => {
    const { a, close } = await pair();
    try {
      const res = await rawCall(a.url, 'health', { cert: pem('forged-b', 'crt'), key: pem('forged-b', 'key'), ca: pem('ca-a', 'crt') });
      assert.equal(res.status, 403);
      assert.equal((res.body as { error: { code: string } }).error.code, 'peer_unknown');
      // The real b, with b's CA, is let in.
      const real = await rawCall(a.url, 'health', { cert: pem('b', 'crt'), key: pem('b', 'key'), ca: pem('ca-a', 'crt') });
      assert.deepEqual([real.status, real.body], [200, { deploymentId: 'a', zone: 'cloud' }]);
    } finally {
      await close();
    }
  });

  it('an operation outside B\'s allow-list is 403 on B and refused on A, audited on both with one correlation id', async () => {
    const { a, b, close } = await pair();
    try {
      const token = await issuer.token('carol');
      const result = await a.federation.client.call('b', 'bases.list', {}, { token, actor: 'carol', correlationId: 'corr-forbidden-1' });
      assert.deepEqual(result, { ok: false, correlationId: 'corr-forbidden-1', status: 'refused', code: 'peer_operation_forbidden', httpStatus: 403 });
      const [inbound] = byCorrelation(await b.entries(), 'corr-forbidden-1');
      const [outbound] = byCorrelation(await a.entries(), 'corr-forbidden-1');
      assert.equal(inbound?.action, 'federation.bases.list');
      assert.equal(inbound?.outcome, 'failure');
      assert.equal(inbound?.data['code'], 'peer_operation_forbidden');
      assert.equal(inbound?.actor, 'peer:a', 'refused before the token is looked at');
      assert.equal(outbound?.data['code'], 'peer_operation_forbidden');
      // What A may not call never leaves A.
      const local = await a.federation.client.call('b', 'bases.move', {}, { token, actor: 'carol' });
      assert.deepEqual(!local.ok && [local.status, local.code, local.httpStatus], ['refused', 'peer_operation_forbidden', undefined]);
      assert.equal(byCorrelation(await b.entries(), local.correlationId).length, 0);
    } finally {
      await close();
    }
  });

  it('rate limit: burst calls pass, every further call is 429 with Retry-After', async () => {
    const burst = 4;
    const extra = 5;
    const { a, b, close } = await pair({ rateLimit: { requestsPerMinute: 1, burst } });
    try {
      const results = [];
      for (let i = 0; i < burst + extra; i++) results.push(await a.federation.client.call('b', 'bundles.pull', {}, { actor: 'system' }));
      assert.equal(results.filter((r) => r.ok).length, burst);
      const limited = results.filter((r) => !r.ok && r.code === 'peer_rate_limited');
      assert.equal(limited.length, extra);
      for (const r of limited) {
        assert.ok(!r.ok && r.httpStatus === 429 && r.status === 'refused');
        assert.ok(!r.ok && r.retryAfter !== undefined && r.retryAfter >= 1 && r.retryAfter <= 60);
      }
      assert.deepEqual(results.map((r) => r.ok), [...Array<boolean>(burst).fill(true), ...Array<boolean>(extra).fill(false)]);
      const inbound = (await b.entries()).filter((e) => e.action === 'federation.bundles.pull');
      assert.equal(inbound.length, burst + extra);
      assert.equal(inbound.filter((e) => e.data['status'] === 429).length, extra);
      // A refused peer still answered: it is up, and the refusal is its last error.
      const status = a.federation.directory.snapshot()[0];
      assert.deepEqual([status?.status, status?.lastError], ['up', 'peer_rate_limited']);
    } finally {
      await close();
    }
  });

  it('user operations need the end user\'s JWT: missing, forged or an API key is 401 and audited', async () => {
    const { a, b, close } = await pair();
    try {
      const missing = await a.federation.client.call('b', 'models', {}, { actor: 'system' });
      const forged = await a.federation.client.call('b', 'models', {}, { token: await issuer.forgedToken('mallory'), actor: 'mallory' });
      const apiKey = await a.federation.client.call('b', 'models', {}, { token: 'sk-perimeter-0123456789abcdef0123456789abcdef', actor: 'dave' });
      for (const r of [missing, forged, apiKey]) {
        assert.deepEqual(!r.ok && [r.status, r.code, r.httpStatus], ['refused', 'authentication_failed', 401]);
        const [inbound] = byCorrelation(await b.entries(), r.correlationId);
        assert.equal(inbound?.data['status'], 401);
        assert.equal(inbound?.actor, 'peer:a');
        assert.equal(inbound?.outcome, 'failure');
      }
      // Deployment-level operations run without a user.
      const pull = await a.federation.client.call('b', 'bundles.pull', {}, { actor: 'system' });
      assert.deepEqual(pull.ok && pull.body, { bundles: [], principal: 'none' });
      const inboundEntries = await b.entries();
      assert.ok(!JSON.stringify(inboundEntries).includes('sk-perimeter-'), 'no credential in the trail');
    } finally {
      await close();
    }
  });

  it('B stopped: A reports B down, fanOut still returns a result per peer', async () => {
    // A port with nothing listening: bound, noted and closed again.
    const closedPort = await new Promise<number>((resolve) => {
      const s: Server = createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const { a, b, close } = await pair({
      aExtraPeers: [{ id: 'c', zone: 'on-prem', url: `https://127.0.0.1:${closedPort}`, ca: pki.ref('ca-b', 'crt'), operations: ['health', 'models'], timeoutMs: 2_000 }],
    });
    try {
      const token = await issuer.token('erin');
      const first = await a.federation.directory.fanOut('models', {}, { token, actor: 'erin', deadlineMs: 4_000, correlationId: 'corr-fan-0001' });
      assert.deepEqual(first.map((r) => [r.peer, r.result.ok]), [['b', true], ['c', false]]);
      const c = first[1]?.result;
      assert.deepEqual(c !== undefined && !c.ok && [c.status, c.code], ['down', 'peer_unreachable']);
      const outbound = byCorrelation(await a.entries(), 'corr-fan-0001');
      assert.deepEqual(outbound.map((e) => e.data['peer']).sort(), ['b', 'c'], 'each peer of a fan-out is audited under the shared id');

      await b.federation.close();
      await a.federation.directory.ping();
      const snapshot = a.federation.directory.snapshot();
      assert.deepEqual(snapshot.map((s) => [s.id, s.status]), [['b', 'down'], ['c', 'down']]);
      assert.notEqual(snapshot[0]?.lastSeen, null, 'b was seen before it went down');
      assert.equal(snapshot[1]?.lastSeen, null);
      const second = await a.federation.directory.fanOut('models', {}, { token, actor: 'erin', deadlineMs: 4_000 });
      assert.deepEqual(second.map((r) => [r.peer, !r.result.ok && r.result.status]), [['b', 'down'], ['c', 'down']]);
      // A keeps serving its own peers while B is gone.
      const selfHealth = await rawCall(a.url, 'health', { cert: pem('b', 'crt'), key: pem('b', 'key'), ca: pem('ca-a', 'crt') });
      assert.equal(selfHealth.status, 200);
    } finally {
      await close();
    }
  });

  it('a response over the size bound is not used', async () => {
    const { a, b, close } = await pair({ maxMessageBytes: 2048 });
    try {
      b.federation.handle('bases.search', async () => ({ body: { blob: 'x'.repeat(10_000) } }));
      const token = await issuer.token('frank');
      const result = await a.federation.client.call('b', 'bases.search', {}, { token, actor: 'frank' });
      assert.deepEqual(!result.ok && [result.status, result.code], ['error', 'peer_response_too_large']);
      const [outbound] = byCorrelation(await a.entries(), result.correlationId);
      assert.equal(outbound?.outcome, 'failure');
    } finally {
      await close();
    }
  });

  it('unknown operations and oversized bodies are refused, audited and charged to the peer', async () => {
    const { b, close } = await pair({ maxMessageBytes: 2048, rateLimit: { requestsPerMinute: 1, burst: 2 } });
    try {
      const tls = { cert: pem('a', 'crt'), key: pem('a', 'key'), ca: pem('ca-b', 'crt') };
      const unknown = await rawCall(b.url, 'chat.completions', tls);
      assert.deepEqual([unknown.status, (unknown.body as { error: { code: string } }).error.code], [404, 'not_found']);
      const client = new Client(b.url, { connect: { ...tls, rejectUnauthorized: true } });
      try {
        const big = await client.request({ method: 'POST', path: '/federation/v1/models', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(4096) }) });
        assert.equal(big.statusCode, 413);
        await big.body.dump();
      } finally {
        await client.destroy();
      }
      // The bucket (burst 2) is now empty: the next malformed call is a 429.
      const third = await rawCall(b.url, 'chat.completions', tls);
      assert.equal(third.status, 429);
      const entries = await b.entries();
      assert.deepEqual(entries.map((e) => [e.action, e.data['status'], e.actor]), [
        ['federation.unknown', 404, 'peer:a'],
        ['federation.models', 413, 'peer:a'],
        ['federation.unknown', 429, 'peer:a'],
      ]);
    } finally {
      await close();
    }
  });

  it('health pings are audited only when asked to; the directory learns the peer is up', async () => {
    const quiet = await pair();
    try {
      await quiet.a.federation.directory.ping();
      assert.equal(quiet.a.federation.directory.snapshot()[0]?.status, 'up');
      assert.equal((await quiet.a.entries()).length, 0);
      assert.equal((await quiet.b.entries()).length, 0);
    } finally {
      await quiet.close();
    }
    const loud = await pair({ auditHealthChecks: true });
    try {
      await loud.a.federation.directory.ping();
      const [outbound] = await loud.a.entries();
      const [inbound] = await loud.b.entries();
      assert.equal(outbound?.action, 'federation.health');
      assert.equal(outbound?.actor, 'system');
      assert.equal(inbound?.actor, 'peer:a');
      assert.equal(outbound?.subject, inbound?.subject);
    } finally {
      await loud.close();
    }
  });
});
