import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Secret } from '../../src/config/secrets.js';
import { GatewayError } from '../../src/domain/errors.js';
import { protectRequest } from '../../src/protect/pseudonymize.js';
import type { VaultKey } from '../../src/protect/vault/cipher.js';
import { MemoryVault } from '../../src/protect/vault/memory-vault.js';
import { RedisVault } from '../../src/protect/vault/redis-vault.js';
import { SqliteVault } from '../../src/protect/vault/sqlite-vault.js';
import { VaultConflictError, type Vault } from '../../src/protect/vault/types.js';
import { request, userMessage } from './support.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const RUN = `perimeter-test:${randomUUID()}:`;
const dir = mkdtempSync(join(tmpdir(), 'perimeter-vault-'));
const key = (id: string): VaultKey => ({ id, secret: new Secret(randomBytes(32).toString('base64')) });
const K1 = key('k1');
const K2 = { id: 'k2', secret: new Secret(randomBytes(32).toString('hex')) };

interface Kind {
  name: 'memory' | 'sqlite' | 'redis';
  /** Vaults from one factory with the same `store` share storage (as two gateway instances would). */
  make(store: string, keys: VaultKey[], ttlMs: number): Vault;
  /** Raw stored bytes of everything, to check encryption at rest; undefined for memory. */
  raw?(store: string): Promise<string>;
}

const kinds: Kind[] = [
  {
    name: 'memory',
    make: (() => {
      const shared = new Map<string, MemoryVault>();
      return (store: string, _keys: VaultKey[], ttlMs: number): Vault => {
        const id = `${store}:${ttlMs}`;
        let v = shared.get(id);
        if (v === undefined) shared.set(id, (v = new MemoryVault({ ttlMs })));
        return v;
      };
    })(),
  },
  {
    name: 'sqlite',
    make: (store, keys, ttlMs) => new SqliteVault({ path: join(dir, `${store}.db`), keys, ttlMs }),
    raw: async (store) => readFileSync(join(dir, `${store}.db`)).toString('latin1') + readWal(join(dir, `${store}.db-wal`)),
  },
  {
    name: 'redis',
    make: (store, keys, ttlMs) => new RedisVault({ url: REDIS_URL, keyPrefix: `${RUN}${store}:`, keys, ttlMs, timeoutMs: 1_000 }),
    raw: async (store) => {
      const r = new Redis(REDIS_URL);
      try {
        const keys = await r.keys(`${RUN}${store}:*`);
        const all = await Promise.all(keys.map((k) => r.hgetall(k)));
        return JSON.stringify(all);
      } finally {
        r.disconnect();
      }
    },
  },
];

function readWal(path: string): string {
  try {
    return readFileSync(path).toString('latin1');
  } catch {
    return '';
  }
}

const opened: Vault[] = [];
function track(v: Vault): Vault {
  opened.push(v);
  return v;
}

after(async () => {
  for (const v of opened) await v.close();
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`${RUN}*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

for (const kind of kinds) {
  describe(`vault contract: ${kind.name}`, () => {
    it('gives one value one placeholder within a session and across sessions of a conversation', async () => {
      const v = track(kind.make('a', [K1], 60_000));
      const s1 = await v.open({ requestId: 'r1', conversation: 'conv-1' });
      s1.avoid([]);
      const a = s1.placeholderFor('PERSON', 'Alice');
      assert.equal(a, '<PERSON_1>');
      assert.equal(s1.placeholderFor('PERSON', 'Alice'), a);
      assert.equal(s1.placeholderFor('PERSON', 'Bob'), '<PERSON_2>');
      assert.equal(s1.placeholderFor('EMAIL_ADDRESS', 'a@b.io'), '<EMAIL_ADDRESS_1>');
      await s1.commit();
      // Another instance over the same store.
      const v2 = track(kind.make('a', [K1], 60_000));
      const s2 = await v2.open({ requestId: 'r2', conversation: 'conv-1' });
      assert.equal(s2.placeholderFor('PERSON', 'Bob'), '<PERSON_2>');
      assert.equal(s2.placeholderFor('PERSON', 'Carol'), '<PERSON_3>');
      assert.equal(s2.lookup('<PERSON_2>'), 'Bob');
      assert.equal(s2.lookup('<PERSON_1>'), undefined, 'not issued in this request');
      await s2.commit();
      const other = await v.open({ requestId: 'r3', conversation: 'conv-2' });
      assert.equal(other.placeholderFor('PERSON', 'Carol'), '<PERSON_1>', 'conversations are independent');
    });

    it('keeps nothing for a request without a conversation', async () => {
      const v = track(kind.make('b', [K1], 60_000));
      const s1 = await v.open({ requestId: 'r1' });
      s1.placeholderFor('PERSON', 'Alice');
      s1.placeholderFor('PERSON', 'Bob');
      await s1.commit();
      const s2 = await v.open({ requestId: 'r2' });
      assert.equal(s2.placeholderFor('PERSON', 'Bob'), '<PERSON_1>');
    });

    it('forgets a conversation after its TTL', async () => {
      const v = track(kind.make('c', [K1], 150));
      const s1 = await v.open({ requestId: 'r1', conversation: 'conv' });
      s1.placeholderFor('PERSON', 'Alice');
      await s1.commit();
      const live = await v.open({ requestId: 'r2', conversation: 'conv' });
      assert.equal(live.placeholderFor('PERSON', 'Bob'), '<PERSON_2>');
      await new Promise((r) => setTimeout(r, 300));
      const s2 = await v.open({ requestId: 'r3', conversation: 'conv' });
      assert.equal(s2.placeholderFor('PERSON', 'Bob'), '<PERSON_1>');
    });

    it('detects a concurrent turn taking the same id, and protectRequest retries', async () => {
      const v = track(kind.make('d', [K1], 60_000));
      const a = await v.open({ requestId: 'ra', conversation: 'race' });
      const b = await v.open({ requestId: 'rb', conversation: 'race' });
      a.placeholderFor('PERSON', 'Alice');
      b.placeholderFor('PERSON', 'Bob');
      await a.commit();
      await assert.rejects(b.commit(), VaultConflictError);
      const req = request([userMessage('Bob')]);
      const findings = [{ entity: 'PERSON', path: 'messages[0].content[0]', start: 0, end: 3, score: 1, detector: 't' }];
      const p = await protectRequest(v, { requestId: 'rc', conversation: 'race' }, req, findings);
      assert.deepEqual(p.request.messages[0]!.content[0], { type: 'text', text: '<PERSON_2>' });
    });

    if (kind.raw !== undefined) {
      const raw = kind.raw;
      it('stores values encrypted, and reads them after a key rotation', async () => {
        const v = track(kind.make('e', [K1], 60_000));
        const s = await v.open({ requestId: 'r', conversation: 'enc' });
        s.placeholderFor('CREDIT_CARD', '4111111111111111');
        s.placeholderFor('PERSON', 'Zebulon Quackenbush');
        await s.commit();
        const bytes = await raw('e');
        assert.ok(!bytes.includes('4111111111111111') && !bytes.includes('Quackenbush'), 'no plaintext at rest');
        assert.ok(!bytes.includes('enc\u0000') && bytes.length > 0);
        // New key first, old key kept: old values still read, new ones use k2.
        const rotated = track(kind.make('e', [K2, K1], 60_000));
        const s2 = await rotated.open({ requestId: 'r2', conversation: 'enc' });
        assert.equal(s2.placeholderFor('PERSON', 'Zebulon Quackenbush'), '<PERSON_1>');
        s2.placeholderFor('PERSON', 'Other');
        await s2.commit();
        // Old key dropped: its values cannot be read, but their ids stay reserved.
        const dropped = track(kind.make('e', [K2], 60_000));
        const s3 = await dropped.open({ requestId: 'r3', conversation: 'enc' });
        assert.equal(s3.placeholderFor('PERSON', 'Other'), '<PERSON_2>');
        assert.equal(s3.placeholderFor('PERSON', 'Zebulon Quackenbush'), '<PERSON_3>');
      });
    }
  });
}

describe('vault unavailable', () => {
  const unavailable = (e: unknown): boolean =>
    e instanceof GatewayError && e.code === 'pseudonymization_unavailable' && e.status === 503 && !e.message.includes('Alice');

  it('Redis on a closed port: 503 on open, within the timeout', async () => {
    const v = track(new RedisVault({ url: 'redis://127.0.0.1:1', keyPrefix: RUN, keys: [K1], ttlMs: 1_000, timeoutMs: 300 }));
    const t0 = Date.now();
    await assert.rejects(v.open({ requestId: 'r', conversation: 'c' }), unavailable);
    assert.ok(Date.now() - t0 < 3_000);
    const req = request([userMessage('Alice')]);
    const findings = [{ entity: 'PERSON', path: 'messages[0].content[0]', start: 0, end: 5, score: 1, detector: 't' }];
    await assert.rejects(protectRequest(v, { requestId: 'r', conversation: 'c' }, req, findings), unavailable);
  });

  it('Redis going away between open and commit: 503 on commit', async () => {
    const v = track(new RedisVault({ url: REDIS_URL, keyPrefix: `${RUN}gone:`, keys: [K1], ttlMs: 1_000, timeoutMs: 300 }));
    const s = await v.open({ requestId: 'r', conversation: 'c' });
    s.placeholderFor('PERSON', 'Alice');
    await v.close();
    await assert.rejects(s.commit(), unavailable);
  });

  it('SQLite file that cannot be created: 503', async () => {
    const v = track(new SqliteVault({ path: join(dir, 'missing', 'dir', 'v.db'), keys: [K1], ttlMs: 1_000 }));
    await assert.rejects(v.open({ requestId: 'r', conversation: 'c' }), unavailable);
  });

  it('rejects keys that are not 32 bytes, without echoing them', () => {
    assert.throws(() => new SqliteVault({ path: ':memory:', keys: [{ id: 'bad', secret: new Secret('c2hvcnQ=') }], ttlMs: 1 }), (e: unknown) => e instanceof Error && !e.message.includes('c2hvcnQ'));
  });
});
