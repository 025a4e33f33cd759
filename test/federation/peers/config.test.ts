import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/config/schema.js';
import { DEFAULT_PEER_OPERATIONS, federationSchema } from '../../../src/federation/config.js';
import { TokenBucket } from '../../../src/federation/peers/token-bucket.js';

const TLS = { cert: 'env:FED_CERT', key: 'env:FED_KEY', ca: 'env:FED_CA' };
const PEER = { id: 'b', zone: 'on-prem', url: 'https://b.example.test:8443' } as const;

function problems(input: unknown): string[] {
  const r = federationSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('federation config', () => {
  it('{} is federation off: no listener, no peers', () => {
    const f = federationSchema.parse({});
    assert.equal(f.listen, undefined);
    assert.deepEqual(f.peers, []);
    const root = configSchema.parse({ backends: [{ id: 'x', tier: 'on-prem', region: 'r', protocol: 'openai', baseUrl: 'http://127.0.0.1:1', maxConcurrency: 1, models: [{ id: 'm' }] }] });
    assert.deepEqual(root.federation.peers, []);
  });

  it('a peer gets metadata-only operations, a rate limit and a timeout by default', () => {
    const f = federationSchema.parse({ listen: { tls: TLS }, peers: [PEER] });
    const p = f.peers[0];
    assert.deepEqual(p?.operations, [...DEFAULT_PEER_OPERATIONS]);
    assert.ok(!p?.operations.includes('bases.retrieve') && !p?.operations.includes('bases.move'));
    assert.deepEqual(p?.rateLimit, { requestsPerMinute: 60, burst: 20 });
    assert.equal(p?.timeoutMs, 5_000);
  });

  it('refuses plain http, inline secrets, duplicate ids, unknown operations and peers without trust', () => {
    assert.match(problems({ listen: { tls: TLS }, peers: [{ ...PEER, url: 'http://b.example.test' }] }).join('\n'), /peers\.0\.url: must be an https URL/);
    assert.match(problems({ listen: { tls: { ...TLS, key: '-----BEGIN PRIVATE KEY-----' } } }).join('\n'), /listen\.tls\.key: must be a reference/);
    assert.match(problems({ listen: { tls: TLS }, peers: [PEER, PEER] }).join('\n'), /peers\.1\.id: duplicate peer id "b"/);
    assert.match(problems({ listen: { tls: TLS }, peers: [{ ...PEER, operations: ['chat'] }] }).join('\n'), /peers\.0\.operations\.0/);
    assert.match(problems({ listen: { tls: TLS }, peers: [{ ...PEER, operations: ['health', 'health'] }] }).join('\n'), /lists an operation twice/);
    assert.match(problems({ peers: [PEER] }).join('\n'), /needs a client certificate/);
    assert.match(problems({ client: { tls: { cert: 'env:C', key: 'env:K' } }, peers: [PEER] }).join('\n'), /peers\.0\.ca: is required/);
    assert.match(problems({ listen: { tls: { cert: 'env:C', key: 'env:K' } } }).join('\n'), /listen\.tls\.ca: is required/);
    assert.deepEqual(problems({ listen: { tls: { cert: 'env:C', key: 'env:K' } }, peers: [{ ...PEER, ca: 'env:B_CA' }] }), []);
  });

  it('a deployment is not its own peer', () => {
    const r = configSchema.safeParse({
      deployment: { id: 'b', zone: 'on-prem' },
      federation: { listen: { tls: TLS }, peers: [PEER] },
      backends: [{ id: 'x', tier: 'on-prem', region: 'r', protocol: 'openai', baseUrl: 'http://127.0.0.1:1', maxConcurrency: 1, models: [{ id: 'm' }] }],
    });
    assert.equal(r.success, false);
    assert.ok(!r.success && r.error.issues.some((i) => i.path.join('.') === 'federation.peers.0.id'));
  });
});

describe('TokenBucket', () => {
  it('allows burst, then refills at the per-minute rate, never above burst', () => {
    let now = 1_000_000;
    const bucket = new TokenBucket({ requestsPerMinute: 6, burst: 3, now: () => now });
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take()].map((r) => r.ok), [true, true, true]);
    assert.deepEqual(bucket.take(), { ok: false, retryAfterSeconds: 10 });
    now += 5_000;
    assert.deepEqual(bucket.take(), { ok: false, retryAfterSeconds: 5 });
    now += 5_000;
    assert.equal(bucket.take().ok, true);
    assert.equal(bucket.take().ok, false);
    now += 600_000;
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()].map((r) => r.ok), [true, true, true, false]);
  });

  it('a clock that steps back mints nothing', () => {
    let now = 1_000_000;
    const bucket = new TokenBucket({ requestsPerMinute: 60, burst: 1, now: () => now });
    assert.equal(bucket.take().ok, true);
    now -= 120_000;
    assert.equal(bucket.take().ok, false);
  });
});
