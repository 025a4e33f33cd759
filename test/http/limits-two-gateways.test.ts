import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { recordsYaml } from '../helpers/gateway.js';
import { cliPath } from '../helpers/paths.js';
import { freePort } from '../helpers/ports.js';

/**
 * Issue 6: two real gateway processes (the CLI, not in-process instances) share one
 * requests/minute cap through real Redis. If the limit were per process, each would
 * admit up to CAP on its own and the sum would reach 2 × CAP.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const KEY = 'sk-perimeter-shared-0123456789';
const CAP = 40;
/**
 * Allowed deviation from CAP. Zero: the check and the increment run in one Lua script
 * (redis-store.ts RESERVE), so no interleaving of the two processes can over-admit, and
 * a refused request adds nothing, so none can starve the cap either. Any deviation is a bug.
 */
const BOUND = 0;
const TOTAL = 120;
const CONCURRENCY = 16;
const READY_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** The minute window is fixed on UTC minute boundaries; a burst starting this close to one waits for the next minute. */
const BOUNDARY_MARGIN_MS = 15_000;

/** An ephemeral port the OS just handed out; the CLI takes a number, so it cannot report back a port 0 choice with silent logs. */

interface Gateway {
  readonly url: string;
  readonly child: ChildProcess;
  /** stderr so far, for failure messages. */
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

function spawnGateway(configPath: string, port: number): Gateway {
  const child = spawn(process.execPath, [cliPath, 'serve', '--config', configPath, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    // Bounded: only the tail matters for a failure message.
    err = (err + d.toString()).slice(-4_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { url: `http://127.0.0.1:${port}`, child, stderr: () => err, exited };
}

/** Bounded polling of /readyz; fails fast if the process dies (bad config, port taken). */
async function waitReady(gw: Gateway): Promise<void> {
  let dead = false;
  void gw.exited.then(() => (dead = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`gateway ${gw.url} exited before ready: ${gw.stderr()}`);
    try {
      const res = await fetch(`${gw.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway ${gw.url} not ready within ${READY_TIMEOUT_MS} ms: ${gw.stderr()}`);
}

/** SIGTERM lets the gateway drain and close its Redis client; SIGKILL only if that hangs. */
async function stop(gw: Gateway): Promise<void> {
  if (gw.child.exitCode !== null || gw.child.signalCode !== null) return;
  gw.child.kill('SIGTERM');
  const timer = setTimeout(() => gw.child.kill('SIGKILL'), 10_000);
  await gw.exited;
  clearTimeout(timer);
}

interface Outcome {
  readonly gateway: number;
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: string | null;
}

async function call(gateway: number, url: string): Promise<Outcome> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'llama-3.1-8b-instruct', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return { gateway, status: res.status, code: body.error?.code, retryAfter: res.headers.get('retry-after') };
}

/** SCAN (never KEYS) for the counters under this run's prefix. */
async function keysUnder(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

describe('limits: two gateway processes share one cap through real Redis', () => {
  const prefix = `perimeter:test:${process.pid}_${randomBytes(4).toString('hex')}:`;
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-two-gw-'));
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  let sim: SimulatorHandle | undefined;
  const gateways: Gateway[] = [];

  before(async () => {
    await redis.connect();
    sim = await startSimulator({ name: 'on-prem' });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      // One file per process only for the records store: two processes on one SQLite file would contend for its lock.
      const yaml = `
server: { host: 127.0.0.1, port: ${port}, drainTimeoutMs: 2000 }
logging: { level: silent }
auth: { required: true, keys: [{ id: shared, insecurePlaintext: ${KEY}, owner: tests, limits: { requestsPerMinute: ${CAP} } }] }
limits: { store: redis, redis: { url: ${REDIS_URL}, keyPrefix: "${prefix}" } }
backends:
  - id: onprem-vllm
    tier: on-prem
    region: eu-central
    protocol: openai
    baseUrl: ${sim.url}/v1
    # Above the burst's concurrency, so the backend's own admission never refuses a request the limiter admitted.
    maxConcurrency: ${CONCURRENCY * 2}
    timeouts: { connectMs: 2000, firstByteMs: 10000, totalMs: 30000 }
    models:
      - { id: llama-3.1-8b-instruct, capability: basic }
${recordsYaml()}
`;
      const file = join(dir, `gateway-${i}.yaml`);
      writeFileSync(file, yaml);
      gateways.push(spawnGateway(file, port));
    }
    await Promise.all(gateways.map(waitReady));
  });

  after(async () => {
    await Promise.all(gateways.map(stop));
    await sim?.close();
    try {
      const keys = await keysUnder(redis, `${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`admits exactly ${CAP} of ${TOTAL} concurrent requests across both, and refuses the rest with 429 + Retry-After`, async (t) => {
    // Avoid straddling two minute windows, which would legitimately allow 2 × CAP. Bounded: at most BOUNDARY_MARGIN_MS.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 60_000 - BOUNDARY_MARGIN_MS) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 200));

    const urls = gateways.map((g) => g.url);
    const outcomes: Outcome[] = [];
    let next = 0;
    // CONCURRENCY workers draw from one counter; even requests go to gateway 0, odd to 1, so both are hit at once.
    const worker = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        const g = i % 2;
        outcomes.push(await call(g, urls[g]!));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    assert.equal(outcomes.length, TOTAL);
    const unexpected = outcomes.filter((o) => o.status !== 200 && !(o.status === 429 && o.code === 'rate_limited'));
    assert.deepEqual(unexpected, [], 'every answer is 200 or 429 rate_limited');
    for (const o of outcomes.filter((x) => x.status === 429)) {
      assert.ok(o.retryAfter !== null && Number(o.retryAfter) >= 1, `429 without a usable Retry-After: ${String(o.retryAfter)}`);
    }

    const admittedBy = [0, 1].map((g) => outcomes.filter((o) => o.gateway === g && o.status === 200).length);
    const admitted = admittedBy[0]! + admittedBy[1]!;
    const detail = `admitted ${admitted} (gateway 0: ${admittedBy[0]!}, gateway 1: ${admittedBy[1]!}) of ${TOTAL}`;
    t.diagnostic(detail);

    // The counters really live in Redis (not the per-instance fallback), in one minute window.
    const rpmKeys = await keysUnder(redis, `${prefix}*requests_per_minute*`);
    assert.equal(rpmKeys.length, 1, `one shared requests/minute counter in one window, ${detail}: [${rpmKeys.join(', ')}]`);
    const counter = Number(await redis.get(rpmKeys[0]!));
    assert.equal(counter, admitted, 'the Redis counter equals the requests admitted by both processes');

    assert.ok(admitted <= CAP + BOUND, `over the cap: ${detail}`);
    assert.ok(admitted >= CAP - BOUND, `the cap was not reached: ${detail}`);
    // Each process got 60 requests; per-process limits would have admitted 40 + 40.
    // With the sum at CAP, both being above zero means neither process had a CAP of its own.
    assert.ok(admittedBy.every((n) => n > 0), `both processes served some: ${detail}`);
  });
});
