import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_KEY_PREFIX, KeyHasher } from '../../src/identity/api-key.js';
import { KeyStoreError, type KeyStore } from '../../src/identity/key-stores/key-store.js';
import { MemoryKeyStore } from '../../src/identity/key-stores/memory.js';
import { PostgresKeyStore } from '../../src/identity/key-stores/postgres.js';
import { SqliteKeyStore } from '../../src/identity/key-stores/sqlite.js';
import { ApiKeyService, principalForKey } from '../../src/identity/keys.js';
import { scopeOf } from '../../src/identity/scope.js';
import { PEPPER, PG_URL, runId } from './support.js';

/**
 * Each backend provides: a fresh store, and a second handle on the SAME data (another
 * "instance"), which is how revocation-at-once across instances is checked.
 */
interface Backend {
  name: string;
  open(): Promise<{ store: KeyStore; sibling: () => Promise<KeyStore>; cleanup: () => Promise<void> }>;
}

const tmp = mkdtempSync(join(tmpdir(), 'perimeter-keys-'));
let sqliteN = 0;

const backends: Backend[] = [
  {
    name: 'memory',
    async open() {
      const store = new MemoryKeyStore();
      // One process's memory is its own instance; the "sibling" is the same object.
      return { store, sibling: async () => store, cleanup: async () => store.close() };
    },
  },
  {
    name: 'sqlite',
    async open() {
      const path = join(tmp, `keys-${sqliteN++}.db`);
      const store = new SqliteKeyStore(path);
      const siblings: KeyStore[] = [];
      return {
        store,
        sibling: async () => {
          const s = new SqliteKeyStore(path);
          siblings.push(s);
          return s;
        },
        cleanup: async () => {
          for (const s of siblings) await s.close();
          await store.close();
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const table = `perimeter_keys_test_${runId()}`;
      const store = await PostgresKeyStore.open({ connectionString: PG_URL, table, max: 4 });
      const siblings: PostgresKeyStore[] = [];
      return {
        store,
        sibling: async () => {
          const s = await PostgresKeyStore.open({ connectionString: PG_URL, table, max: 2 });
          siblings.push(s);
          return s;
        },
        cleanup: async () => {
          for (const s of siblings) await s.close();
          await store.dropTable();
          await store.close();
        },
      };
    },
  },
];

after(() => rmSync(tmp, { recursive: true, force: true }));

function clock(start = Date.parse('2026-01-10T12:00:00Z')): { now: () => Date; advance: (ms: number) => void } {
  let t = start;
  return { now: () => new Date(t), advance: (ms) => (t += ms) };
}

for (const backend of backends) {
  describe(`KeyStore contract: ${backend.name}`, () => {
    let store: KeyStore;
    let sibling: () => Promise<KeyStore>;
    let cleanup: () => Promise<void>;
    const hasher = new KeyHasher(PEPPER);

    before(async () => {
      ({ store, sibling, cleanup } = await backend.open());
    });
    after(async () => cleanup());

    it('create returns the key once; the store holds only hash and prefix', async () => {
      const svc = new ApiKeyService(store, hasher);
      const { key, record } = await svc.create({ owner: 'alice', team: 'payments', roles: ['user'], models: ['gpt-4o'], tiers: ['on-prem'] });
      assert.ok(key.startsWith(API_KEY_PREFIX));
      assert.ok(key.length >= API_KEY_PREFIX.length + 32);
      const stored = await store.get(record.id);
      assert.ok(stored);
      assert.equal(stored.hash, hasher.hash(key));
      assert.notEqual(stored.hash, key);
      assert.equal(stored.prefix, key.slice(0, API_KEY_PREFIX.length + 4));
      assert.ok(!JSON.stringify(stored).includes(key.slice(API_KEY_PREFIX.length)), 'no part of the secret beyond the prefix is stored');
      const listed = await svc.list();
      assert.ok(listed.every((v) => !('hash' in v)), 'views omit the hash');
    });

    it('round-trips every field of the grant', async () => {
      const svc = new ApiKeyService(store, hasher);
      const expiresAt = new Date(Date.now() + 86_400_000);
      const { key, record } = await svc.create({
        owner: 'bob',
        team: 'risk',
        roles: ['user', 'viewer'],
        workload: 'batch-scoring',
        models: ['llama-3.1-8b-instruct', 'gpt-4o'],
        tiers: ['on-prem', 'private-cloud'],
        limits: { requestsPerMinute: 10, spendPerDayUsd: 2.5 },
        expiresAt,
        description: 'nightly job',
      });
      const got = await store.findByHash(hasher.hash(key));
      assert.ok(got);
      assert.deepEqual({ ...got }, { ...record });
    });

    it('verify: unknown, active, revoked, expired', async () => {
      const c = clock();
      const svc = new ApiKeyService(store, hasher, { now: c.now });
      assert.deepEqual(await svc.verify(`${API_KEY_PREFIX}nope`), { ok: false, reason: 'unknown' });
      const a = await svc.create({ owner: 'carol', expiresAt: new Date(c.now().getTime() + 60_000) });
      assert.equal((await svc.verify(a.key)).ok, true);
      c.advance(60_000);
      assert.deepEqual(await svc.verify(a.key), { ok: false, reason: 'expired' });
      const b = await svc.create({ owner: 'dave' });
      await svc.revoke(b.record.id);
      assert.deepEqual(await svc.verify(b.key), { ok: false, reason: 'revoked' });
    });

    it('revocation on one instance is refused at once by another', async () => {
      const other = new ApiKeyService(await sibling(), hasher);
      const svc = new ApiKeyService(store, hasher);
      const { key, record } = await svc.create({ owner: 'erin' });
      assert.equal((await other.verify(key)).ok, true, 'the other instance accepts it first');
      assert.ok(await svc.revoke(record.id));
      assert.deepEqual(await other.verify(key), { ok: false, reason: 'revoked' });
    });

    it('revoke never pushes an earlier revocation later, and unknown ids are undefined', async () => {
      const svc = new ApiKeyService(store, hasher);
      const { record } = await svc.create({ owner: 'frank' });
      const early = new Date(Date.now() - 1_000);
      await store.revoke(record.id, early);
      const again = await store.revoke(record.id, new Date(Date.now() + 3_600_000));
      assert.equal(again?.revokedAt?.getTime(), early.getTime());
      assert.equal(await store.revoke('key_does_not_exist', new Date()), undefined);
    });

    it('rotate: same grant, new secret, old key revoked (or after a grace period)', async () => {
      const c = clock();
      const svc = new ApiKeyService(store, hasher, { now: c.now });
      const first = await svc.create({ owner: 'gina', team: 't', roles: ['user'], models: ['m1'], tiers: ['on-prem'], limits: { tokensPerMinute: 100 } });
      const rotated = await svc.rotate(first.record.id);
      assert.notEqual(rotated.key, first.key);
      assert.equal(rotated.record.rotatedFrom, first.record.id);
      assert.deepEqual([rotated.record.owner, rotated.record.team, rotated.record.models, rotated.record.tiers, rotated.record.limits], ['gina', 't', ['m1'], ['on-prem'], { tokensPerMinute: 100 }]);
      assert.deepEqual(await svc.verify(first.key), { ok: false, reason: 'revoked' });
      assert.equal((await svc.verify(rotated.key)).ok, true);

      const graceful = await svc.rotate(rotated.record.id, { graceSeconds: 60 });
      assert.equal((await svc.verify(rotated.key)).ok, true, 'still valid during the grace period');
      c.advance(60_000);
      assert.deepEqual(await svc.verify(rotated.key), { ok: false, reason: 'revoked' });
      assert.equal((await svc.verify(graceful.key)).ok, true);
      await assert.rejects(svc.rotate(first.record.id), /is revoked/);
    });

    it('duplicate ids and hashes are refused', async () => {
      const svc = new ApiKeyService(store, hasher);
      await svc.importKey(`cfg-dup-${backend.name}`, `${API_KEY_PREFIX}dup-${backend.name}`, { owner: 'x' });
      await assert.rejects(svc.importKey(`cfg-dup-${backend.name}`, `${API_KEY_PREFIX}other-${backend.name}`, { owner: 'x' }), (e) => e instanceof KeyStoreError && e.reason === 'duplicate');
      await assert.rejects(svc.importKey(`cfg-dup2-${backend.name}`, `${API_KEY_PREFIX}dup-${backend.name}`, { owner: 'x' }), (e) => e instanceof KeyStoreError && e.reason === 'duplicate');
    });

    it('list is oldest first and includes revoked keys with their state', async () => {
      const c = clock(Date.parse('2030-01-01T00:00:00Z'));
      const svc = new ApiKeyService(store, hasher, { now: c.now });
      const a = await svc.create({ owner: 'list-a' });
      c.advance(1000);
      const b = await svc.create({ owner: 'list-b' });
      await svc.revoke(a.record.id);
      const views = (await svc.list()).filter((v) => v.owner.startsWith('list-'));
      assert.deepEqual(views.map((v) => [v.id, v.state]), [[a.record.id, 'revoked'], [b.record.id, 'active']]);
    });

    it('a key principal carries id, team, roles, workload and the key scope', async () => {
      const svc = new ApiKeyService(store, hasher);
      const { key } = await svc.create({ owner: 'hank', team: 'ops', roles: ['user'], workload: 'w1', models: ['m'], tiers: ['on-prem'], limits: { requestsPerMinute: 3 } });
      const r = await svc.verify(key);
      assert.ok(r.ok);
      const p = principalForKey(r.record);
      assert.deepEqual({ ...p }, { id: r.record.id, kind: 'api_key', team: 'ops', roles: ['user'], groups: [], workload: 'w1', attributes: { owner: 'hank' } });
      assert.ok(Object.isFrozen(p));
      assert.deepEqual(scopeOf(p), { models: ['m'], tiers: ['on-prem'], limits: { requestsPerMinute: 3 } });
    });
  });
}

describe('SQL stores refuse malformed rows', () => {
  it('a hand-edited row granting a bogus tier is reported, not trusted', async () => {
    const path = join(tmp, 'corrupt.db');
    const store = new SqliteKeyStore(path);
    const svc = new ApiKeyService(store, new KeyHasher(PEPPER));
    const { key } = await svc.create({ owner: 'z' });
    await store.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path);
    db.prepare(`UPDATE api_keys SET tiers = '["moon"]'`).run();
    db.close();
    const reopened = new ApiKeyService(new SqliteKeyStore(path), new KeyHasher(PEPPER));
    await assert.rejects(reopened.verify(key), (e) => e instanceof KeyStoreError && e.reason === 'corrupt');
    await reopened.store.close();
  });

  it('a different pepper cannot find the key (the hash is keyed)', async () => {
    const store = new MemoryKeyStore();
    const { key } = await new ApiKeyService(store, new KeyHasher(PEPPER)).create({ owner: 'z' });
    const other = new ApiKeyService(store, new KeyHasher(new Uint8Array(32).fill(9)));
    assert.deepEqual(await other.verify(key), { ok: false, reason: 'unknown' });
  });
});
