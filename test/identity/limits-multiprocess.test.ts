import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { RedisLimitStore } from '../../src/identity/limits/redis-store.js';
import { REDIS_URL, runId } from './support.js';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'limiter-worker.js');

interface WorkerResult {
  admitted: number;
  refused: number;
  spentUsd: number;
}

function start(args: string[]): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; done: Promise<WorkerResult> } {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<WorkerResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`worker timed out: ${err}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`worker exited ${String(code)}: ${err}`));
      else resolve(JSON.parse(last) as WorkerResult);
    });
  });
  return { child, ready, done };
}

async function race(mode: 'rpm' | 'spend', prefix: string): Promise<WorkerResult[]> {
  const now = String(Date.parse('2026-03-10T12:00:10Z'));
  const workers = [1, 2].map((seed) =>
    start(['--redis', REDIS_URL, '--prefix', prefix, '--now', now, '--requests', '300', '--concurrency', '16', '--mode', mode, '--seed', String(seed)]),
  );
  await Promise.all(workers.map((w) => w.ready));
  // Both are connected and waiting: release them together so their requests interleave.
  for (const w of workers) w.child.stdin.end('go\n');
  return Promise.all(workers.map((w) => w.done));
}

describe('limits across two processes on real Redis', () => {
  const prefix = `perimeter-test:${runId()}:`;
  after(async () => {
    const store = await RedisLimitStore.open(REDIS_URL);
    await store.deletePrefix(prefix);
    await store.close();
  });

  it('requests/minute for a shared team: exactly the cap is admitted in total', async () => {
    const results = await race('rpm', `${prefix}rpm:`);
    const admitted = results.reduce((s, r) => s + r.admitted, 0);
    assert.equal(admitted, 50, JSON.stringify(results));
    assert.ok(results.every((r) => r.admitted > 0), `both processes were served: ${JSON.stringify(results)}`);
    assert.equal(results.reduce((s, r) => s + r.admitted + r.refused, 0), 600);
  });

  it('spend/day with estimate → reconcile: the cap holds within the in-flight estimate error', async () => {
    const results = await race('spend', `${prefix}spend:`);
    const spent = results.reduce((s, r) => s + r.spentUsd, 0);
    // Each admitted call may cost up to 0.005 above its 0.01 estimate; at most 2×16 are in flight.
    const bound = 1 + 2 * 16 * 0.005;
    assert.ok(spent <= bound, `spent ${spent} > ${bound}`);
    assert.ok(spent >= 0.9, `the budget was actually used: ${spent}`);
    assert.ok(results.every((r) => r.admitted > 0));
  });
});
