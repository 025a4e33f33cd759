import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BatchQueue, replaySpill, type DropReason, type QueueObserver } from '../../src/record/queue.js';
import { tempDir } from './support.js';

function observer(): QueueObserver & { drops: [string, DropReason, number][]; spills: number; writtenCount: number; failures: number } {
  const o = {
    drops: [] as [string, DropReason, number][],
    spills: 0,
    writtenCount: 0,
    failures: 0,
    dropped(d: string, r: DropReason, n: number) {
      o.drops.push([d, r, n]);
    },
    spilled(_d: string, n: number) {
      o.spills += n;
    },
    writeFailed() {
      o.failures++;
    },
  };
  return Object.assign(o, {
    written(_d: string, n: number) {
      o.writtenCount += n;
    },
  });
}

/** A writer whose writes stay pending until released, so tests control when the queue drains. */
function gatedWriter(): { write: (b: readonly number[]) => Promise<void>; batches: number[][]; open: () => void } {
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  let gate = new Promise<void>((r) => (release = r));
  return {
    batches,
    write: async (b) => {
      await gate;
      batches.push([...b]);
    },
    open: () => {
      release?.();
      gate = Promise.resolve();
    },
  };
}

const base = { name: 'store', flushIntervalMs: 60_000, writeRetries: 0, retryBaseMs: 1 };

describe('BatchQueue', () => {
  it('writes full batches by size and the rest on flush, in order', async () => {
    const batches: number[][] = [];
    const q = new BatchQueue<number>({ ...base, size: 100, batchSize: 4, whenFull: 'drop_oldest', write: async (b) => void batches.push([...b]) });
    for (let i = 0; i < 10; i++) assert.equal(q.enqueue(i), 'queued');
    await q.flush();
    assert.deepEqual(batches.flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(batches.every((b) => b.length <= 4));
    assert.equal(q.depth, 0);
  });

  it('writes a partial batch when the interval passes', async () => {
    const written: number[] = [];
    let done: () => void = () => undefined;
    const wrote = new Promise<void>((r) => (done = r));
    const q = new BatchQueue<number>({ ...base, flushIntervalMs: 5, size: 100, batchSize: 50, whenFull: 'drop_oldest', write: async (b) => { written.push(...b); done(); } });
    // The queue's timer is unref'd (it must not hold a process open); this one keeps the test alive.
    const keepAlive = setInterval(() => undefined, 1000);
    q.enqueue(1);
    q.enqueue(2);
    await wrote;
    clearInterval(keepAlive);
    assert.deepEqual(written, [1, 2]);
  });

  it('drop_oldest keeps the newest and counts every drop', async () => {
    const w = gatedWriter();
    const o = observer();
    const q = new BatchQueue<number>({ ...base, size: 3, batchSize: 100, whenFull: 'drop_oldest', write: w.write, observer: o });
    for (let i = 0; i < 5; i++) q.enqueue(i);
    assert.deepEqual(o.drops, [['store', 'queue_full', 1], ['store', 'queue_full', 1]]);
    w.open();
    await q.flush();
    assert.deepEqual(w.batches.flat(), [2, 3, 4]);
    assert.equal(q.stats().dropped, 2);
  });

  it('drop_newest keeps the oldest and counts', async () => {
    const w = gatedWriter();
    const o = observer();
    const q = new BatchQueue<number>({ ...base, size: 2, batchSize: 100, whenFull: 'drop_newest', write: w.write, observer: o });
    assert.deepEqual([0, 1, 2].map((i) => q.enqueue(i)), ['queued', 'queued', 'dropped_newest']);
    w.open();
    await q.flush();
    assert.deepEqual(w.batches.flat(), [0, 1]);
    assert.equal(o.drops.length, 1);
  });

  it('spill writes overflow to a file that is replayed later', async () => {
    const tmp = tempDir();
    try {
      const path = `${tmp.dir}/spill.jsonl`;
      const w = gatedWriter();
      const o = observer();
      const q = new BatchQueue<{ id: number }>({ ...base, size: 2, batchSize: 100, whenFull: 'spill', spillPath: path, serialize: (x) => JSON.stringify(x), write: async (b) => w.write(b.map((x) => x.id)), observer: o });
      for (let i = 0; i < 5; i++) q.enqueue({ id: i });
      assert.equal(o.spills, 3);
      assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 3);
      w.open();
      await q.flush();
      // The next run replays them into its own queue.
      const q2 = new BatchQueue<{ id: number }>({ ...base, size: 10, batchSize: 100, whenFull: 'spill', spillPath: path, serialize: (x) => JSON.stringify(x), write: async (b) => w.write(b.map((x) => x.id)) });
      const n = replaySpill(path, (l) => JSON.parse(l) as { id: number }, (x) => q2.enqueue(x));
      assert.equal(n, 3);
      assert.equal(existsSync(path), false);
      await q2.flush();
      assert.deepEqual(w.batches.flat().sort(), [0, 1, 2, 3, 4]);
    } finally {
      tmp.cleanup();
    }
  });

  it('retries a failing write, then counts the batch as lost', async () => {
    let calls = 0;
    const o = observer();
    const q = new BatchQueue<number>({ ...base, writeRetries: 2, size: 10, batchSize: 10, whenFull: 'drop_oldest', observer: o, write: async () => { calls++; throw new Error('db down'); } });
    q.enqueue(1);
    q.enqueue(2);
    await q.flush();
    assert.equal(calls, 3);
    assert.equal(o.failures, 3);
    assert.deepEqual(o.drops, [['store', 'write_failed', 2]]);
  });

  it('recovers when a retry succeeds', async () => {
    let calls = 0;
    const got: number[] = [];
    const q = new BatchQueue<number>({ ...base, writeRetries: 3, size: 10, batchSize: 10, whenFull: 'drop_oldest', write: async (b) => { if (++calls < 3) throw new Error('flaky'); got.push(...b); } });
    q.enqueue(7);
    await q.flush();
    assert.deepEqual(got, [7]);
    assert.equal(q.stats().dropped, 0);
  });

  it('after close, enqueue is refused and counted', async () => {
    const o = observer();
    const q = new BatchQueue<number>({ ...base, size: 10, batchSize: 10, whenFull: 'drop_oldest', observer: o, write: async () => undefined });
    q.enqueue(1);
    await q.close();
    assert.equal(o.writtenCount, 1);
    assert.equal(q.enqueue(2), 'dropped_closed');
    assert.deepEqual(o.drops, [['store', 'closed', 1]]);
  });
});
