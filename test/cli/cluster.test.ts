import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Pool } from 'undici';
import { parseWorkers, RestartBudget } from '../../src/cli/cluster.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { cliPath } from '../helpers/paths.js';
import { freePort } from '../helpers/ports.js';

const KEY = 'sk-perimeter-cluster-test-0123456789';
const REPLY = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty';

interface Cluster {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly workers: number[];
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function writeConfig(sim: SimulatorHandle, port: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-cluster-'));
  dirs.push(dir);
  const file = join(dir, 'cluster.yaml');
  writeFileSync(
    file,
    `server: { host: 127.0.0.1, port: ${port}, drainTimeoutMs: 20000 }
logging: { level: info }
auth: { keys: [{ id: cluster-test, insecurePlaintext: ${KEY}, owner: tests }] }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { spillPath: ${join(dir, 'spill.jsonl')} } }
backends:
  - id: onprem
    tier: on-prem
    region: local
    protocol: openai
    baseUrl: ${sim.url}/v1
    maxConcurrency: 256
    models: [{ id: cluster-model }]
`,
  );
  return file;
}

/** A free loopback port (closed again before the cluster binds it). */

/** Starts `perimeter serve --workers N` and resolves once the primary reports every worker listening. */
function startCluster(config: string, workers = 2): Promise<Cluster> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--config', config, '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    // Generous: other test files compete for the CPU while N gateways compose.
    const timer = setTimeout(() => reject(new Error(`cluster did not start: ${out.slice(-2000)}`)), 90_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('perimeter cluster listening')) continue;
        const parsed = JSON.parse(line) as { url: string; workers: number[] };
        clearTimeout(timer);
        resolve({ child, url: parsed.url, port: Number(new URL(parsed.url).port), workers: parsed.workers, output: () => out, exited });
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`cluster exited with ${String(code)} before listening: ${out.slice(-2000)}`));
    });
  });
}

/** Established TCP connections on `port` whose socket is held by `pid` (from /proc, no external tools). */
function connectionsHeldBy(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1]?.split(':')[1];
      if (local === undefined || cols[9] === undefined) continue;
      if (parseInt(local, 16) === port && cols[3] === '01' && inodes.has(cols[9])) n++;
    }
  }
  return n;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

function chatBody(stream: boolean, n: number): string {
  return JSON.stringify({ model: 'cluster-model', stream, messages: [{ role: 'user', content: `request ${n} [[sim:reply=${REPLY}]]` }] });
}

const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

async function chat(pool: Pool, n: number): Promise<number> {
  const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: HEADERS, body: chatBody(false, n) });
  const json = (await res.body.json()) as { choices?: { message?: { content?: string } }[] };
  assert.equal(json.choices?.[0]?.message?.content, REPLY);
  return res.statusCode;
}

function perimeter(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function eventually(check: () => boolean, attempts = 600, intervalMs = 100): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return check();
}

describe('perimeter serve --workers', () => {
  it('two workers serve one port, both take traffic, and the audit chain they both extend verifies', async () => {
    const sim = await startSimulator({ name: 'on-prem' });
    const config = writeConfig(sim, await freePort());
    const cluster = await startCluster(config);
    const requests = 240;
    try {
      assert.equal(cluster.workers.length, 2);
      assert.deepEqual(new Set(childrenOf(cluster.child.pid ?? -1)), new Set(cluster.workers));
      const pool = new Pool(cluster.url, { connections: 8 });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < requests; i += 16) {
          statuses.push(...(await Promise.all(Array.from({ length: Math.min(16, requests - i) }, (_, j) => chat(pool, i + j)))));
        }
        assert.equal(statuses.length, requests);
        assert.ok(statuses.every((s) => s === 200), `statuses: ${[...new Set(statuses)].join(', ')}`);
        // The pool's connections are still open: each worker must hold some of them.
        const held = cluster.workers.map((pid) => connectionsHeldBy(pid, cluster.port));
        assert.ok(held.every((n) => n > 0), `connections held per worker: ${held.join(', ')}`);
        assert.equal(
          held.reduce((a, b) => a + b, 0),
          8,
          `all 8 connections are held by the workers: ${held.join(', ')}`,
        );
      } finally {
        await pool.close();
      }
      assert.equal(sim.received().length, requests);
    } finally {
      cluster.child.kill('SIGTERM');
      assert.equal(await cluster.exited, 0, cluster.output().slice(-2000));
      await sim.close();
    }
    // Both workers appended decisions to one chain in one SQLite file, concurrently.
    const verify = perimeter('audit', 'verify', '--config', config);
    assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
    const entries = Number(/audit chain verified: (\d+) entries/.exec(verify.stdout)?.[1]);
    assert.ok(entries >= requests, verify.stdout);
    const decisions = perimeter('audit', 'export', '--config', config, '--format', 'jsonl', '--kind', 'decision');
    assert.equal(decisions.status, 0, decisions.stderr);
    assert.equal(decisions.stdout.trim().split('\n').length, requests);
  });

  it('SIGTERM drains the streams in flight on both workers, then the port closes', async () => {
    // About two seconds per answer, so the streams are still running when SIGTERM arrives.
    const sim = await startSimulator({ name: 'on-prem', tokensPerSecond: 10 });
    const cluster = await startCluster(writeConfig(sim, await freePort()));
    const pool = new Pool(cluster.url, { connections: 6 });
    try {
      const streams = await Promise.all(
        Array.from({ length: 6 }, (_, n) => pool.request({ method: 'POST', path: '/v1/chat/completions', headers: HEADERS, body: chatBody(true, n) })),
      );
      assert.ok(streams.every((s) => s.statusCode === 200));
      const held = cluster.workers.map((pid) => connectionsHeldBy(pid, cluster.port));
      assert.ok(held.every((n) => n > 0), `streams held per worker: ${held.join(', ')}`);
      let signalled = false;
      const bodies = streams.map(async (s) => {
        let text = '';
        for await (const chunk of s.body) text += (chunk as Buffer).toString();
        return { text, endedAfterSignal: signalled };
      });
      cluster.child.kill('SIGTERM');
      signalled = true;
      const done = await Promise.all(bodies);
      for (const { text, endedAfterSignal } of done) {
        assert.ok(endedAfterSignal, 'the stream was still running when SIGTERM was sent');
        assert.match(text, /data: \[DONE\]/);
        const words = [...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('');
        assert.equal(words, REPLY);
      }
      assert.equal(await cluster.exited, 0, cluster.output().slice(-2000));
      assert.match(cluster.output(), /cluster stopping/);
      assert.equal((cluster.output().match(/"msg":"draining"/g) ?? []).length, 2, 'each worker drained');
      await assert.rejects(fetch(`${cluster.url}/readyz`));
    } finally {
      cluster.child.kill('SIGKILL');
      await pool.close();
      await sim.close();
    }
  });

  it('replaces a crashed worker and keeps serving', async () => {
    const sim = await startSimulator({ name: 'on-prem' });
    const cluster = await startCluster(writeConfig(sim, await freePort()));
    try {
      const [victim, survivor] = cluster.workers as [number, number];
      process.kill(victim, 'SIGKILL');
      const replaced = await eventually(() => {
        const now = childrenOf(cluster.child.pid ?? -1);
        return now.length === 2 && now.includes(survivor) && !now.includes(victim);
      });
      assert.ok(replaced, cluster.output().slice(-2000));
      assert.match(cluster.output(), /worker exited unexpectedly; restarting it/);
      const fresh = childrenOf(cluster.child.pid ?? -1).find((p) => p !== survivor) as number;
      // The new worker composes its own gateway; once it listens, new connections reach it too.
      let heldByFresh = 0;
      for (let attempt = 0; attempt < 60 && heldByFresh === 0; attempt++) {
        const pool = new Pool(cluster.url, { connections: 8 });
        try {
          const statuses = await Promise.all(Array.from({ length: 16 }, (_, n) => chat(pool, n)));
          assert.ok(statuses.every((s) => s === 200));
          heldByFresh = connectionsHeldBy(fresh, cluster.port);
        } finally {
          await pool.close();
        }
        if (heldByFresh === 0) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(heldByFresh > 0, 'the replacement worker takes connections');
    } finally {
      cluster.child.kill('SIGTERM');
      assert.equal(await cluster.exited, 0, cluster.output().slice(-2000));
      await sim.close();
    }
  });

  it('stops with exit 1 when the workers cannot start (port taken)', async () => {
    const sim = await startSimulator({ name: 'on-prem' });
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const child = spawn(process.execPath, [cliPath, 'serve', '--config', writeConfig(sim, port), '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      assert.equal(code, 1, out);
      assert.match(out, /EADDRINUSE/);
      assert.match(out, /worker failed to start; stopping the cluster/);
    } finally {
      await new Promise((r) => blocker.close(r));
      await sim.close();
    }
  });
});

describe('cluster helpers', () => {
  it('parseWorkers: integers 1..256 and auto', () => {
    assert.equal(parseWorkers(undefined), undefined);
    assert.equal(parseWorkers('3'), 3);
    assert.ok((parseWorkers('auto') ?? 0) >= 1);
    for (const bad of ['0', '-1', '1.5', 'two', '257']) assert.throws(() => parseWorkers(bad), /--workers/);
  });

  it('RestartBudget allows max restarts per sliding window', () => {
    let now = 0;
    const budget = new RestartBudget(2, 1000, () => now);
    assert.equal(budget.take(), true);
    now = 100;
    assert.equal(budget.take(), true);
    now = 500;
    assert.equal(budget.take(), false);
    now = 1001; // the first restart left the window
    assert.equal(budget.take(), true);
    assert.equal(budget.take(), false);
  });
});
