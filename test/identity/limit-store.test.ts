import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LimitStore } from '../../src/identity/limits/limit-store.js';
import { MemoryLimitStore } from '../../src/identity/limits/memory-store.js';
import { RedisLimitStore } from '../../src/identity/limits/redis-store.js';
import { REDIS_URL, runId } from './support.js';

interface Backend {
  name: string;
  open(): Promise<{ store: LimitStore; cleanup: () => Promise<void> }>;
}

const backends: Backend[] = [
  { name: 'memory', open: async () => { const store = new MemoryLimitStore(); return { store, cleanup: () => store.close() }; } },
  {
    name: 'redis',
    open: async () => {
      const store = await RedisLimitStore.open(REDIS_URL);
      return { store, cleanup: async () => store.close() };
    },
  },
];

for (const backend of backends) {
  describe(`LimitStore contract: ${backend.name}`, () => {
    const p = `perimeter-test:${runId()}:`;
    let store: LimitStore;
    let cleanup: () => Promise<void>;
    before(async () => ({ store, cleanup } = await backend.open()));
    after(async () => {
      if (store instanceof RedisLimitStore) await store.deletePrefix(p);
      await cleanup();
    });

    it('admits up to the limit exactly, then refuses with the failing index', async () => {
      const charge = { key: `${p}a`, amount: 1, limit: 3, ttlMs: 60_000 };
      for (let i = 0; i < 3; i++) assert.deepEqual(await store.reserve([charge]), { ok: true });
      assert.deepEqual(await store.reserve([charge]), { ok: false, index: 0 });
      assert.deepEqual(await store.peek([`${p}a`, `${p}absent`]), [3, 0]);
    });

    it('all or nothing across counters', async () => {
      const ok = { key: `${p}b1`, amount: 5, limit: 100, ttlMs: 60_000 };
      const full = { key: `${p}b2`, amount: 5, limit: 4, ttlMs: 60_000 };
      assert.deepEqual(await store.reserve([ok, full]), { ok: false, index: 1 });
      assert.deepEqual(await store.peek([ok.key, full.key]), [0, 0], 'the first counter was not charged');
    });

    it('a zero amount never refuses; an amount larger than the limit always does', async () => {
      const key = `${p}c`;
      assert.deepEqual(await store.reserve([{ key, amount: 10, limit: 10, ttlMs: 60_000 }]), { ok: true });
      assert.deepEqual(await store.reserve([{ key, amount: 0, limit: 10, ttlMs: 60_000 }]), { ok: true });
      assert.deepEqual(await store.reserve([{ key: `${p}c2`, amount: 11, limit: 10, ttlMs: 60_000 }]), { ok: false, index: 0 });
    });

    it('adjust: positive beyond the limit, negative floors at zero, absent stays absent', async () => {
      const key = `${p}d`;
      await store.reserve([{ key, amount: 8, limit: 10, ttlMs: 60_000 }]);
      await store.adjust([{ key, delta: 7, ttlMs: 60_000 }]);
      assert.deepEqual(await store.peek([key]), [15]);
      assert.deepEqual(await store.reserve([{ key, amount: 1, limit: 10, ttlMs: 60_000 }]), { ok: false, index: 0 });
      await store.adjust([{ key, delta: -100, ttlMs: 60_000 }, { key: `${p}d-absent`, delta: -5, ttlMs: 60_000 }]);
      assert.deepEqual(await store.peek([key, `${p}d-absent`]), [0, 0]);
    });

    it('concurrent reservations never exceed the limit', async () => {
      const key = `${p}e`;
      const results = await Promise.all(Array.from({ length: 200 }, () => store.reserve([{ key, amount: 1, limit: 37, ttlMs: 60_000 }])));
      assert.equal(results.filter((r) => r.ok).length, 37);
      assert.deepEqual(await store.peek([key]), [37]);
    });

    it('counters expire with their ttl', async () => {
      if (store instanceof MemoryLimitStore) {
        let t = 1_000;
        const mem = new MemoryLimitStore({ now: () => t });
        await mem.reserve([{ key: 'k', amount: 2, limit: 2, ttlMs: 1_000 }]);
        assert.deepEqual(await mem.reserve([{ key: 'k', amount: 1, limit: 2, ttlMs: 1_000 }]), { ok: false, index: 0 });
        t += 1_000;
        assert.deepEqual(await mem.reserve([{ key: 'k', amount: 1, limit: 2, ttlMs: 1_000 }]), { ok: true });
      } else {
        // Redis expiry is Redis's own; check only that the ttl is set.
        const key = `${p}f`;
        await store.reserve([{ key, amount: 1, limit: 2, ttlMs: 60_000 }]);
        const { Redis } = await import('ioredis');
        const r = new Redis(REDIS_URL);
        try {
          const ttl = await r.pttl(key);
          assert.ok(ttl > 0 && ttl <= 60_000, `ttl ${ttl}`);
        } finally {
          r.disconnect();
        }
      }
    });
  });
}
