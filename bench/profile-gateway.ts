/**
 * Profiling harness: the gateway's CPU per request for one mode, optionally under
 * the V8 sampling profiler, with the profile reduced to self time per function.
 * Unlike gateway-bench it measures only the via-gateway path and writes no report,
 * so it can be run over and over while optimising.
 *
 *   node dist/bench/profile-gateway.js                        # non-streaming, CPU µs/req
 *   PROFILE_MODE=stream node dist/bench/profile-gateway.js    # streaming
 *   PROFILE=1 node dist/bench/profile-gateway.js              # also --cpu-prof, top functions
 *   PROFILE_SECONDS=8 PROFILE_ROUNDS=3 PROFILE_EXTRA_YAML='injection: { enabled: false }' ...
 *   (PROFILE_EXTRA_YAML replaces the default, which turns the classifier's segment cache off: the prompt repeats)
 *   PROFILE_JOURNAL=false ...                                 # the records journal off (crash durability of answered requests)
 *   PROFILE_NODE_FLAGS='--perf-basic-prof-only-functions' ... # then `perf record -e cpu-clock -g -p <gateway pid>`
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { benchBody } from './lib/workload.js';
import { cpuSeconds, median, threadCpuSeconds, startProcess, startServing, stopProcess } from './lib/processes.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const seconds = Number(process.env.PROFILE_SECONDS ?? 5);
const rounds = Number(process.env.PROFILE_ROUNDS ?? 3);
const connections = Number(process.env.PROFILE_CONNECTIONS ?? 32);
const stream = process.env.PROFILE_MODE === 'stream';
const profile = process.env.PROFILE === '1';
const top = Number(process.env.PROFILE_TOP ?? 40);
// Away from gateway-bench's ports: other people run that one on this machine at the same time.
const SIM_PORT = Number(process.env.PROFILE_SIM_PORT ?? 19_511);
const GATEWAY_PORT = Number(process.env.PROFILE_GATEWAY_PORT ?? 19_590);
const BENCH_KEY = 'sk-perimeter-bench-0123456789';

interface Sample {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuUsPerReq: number;
  readonly mainUsPerReq: number;
  readonly errors: number;
}

async function load(url: string, pid: number, duration: number): Promise<Sample> {
  const before = cpuSeconds(pid);
  const mainBefore = threadCpuSeconds(pid, pid);
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
    // The gateway bench's own request (a ~2 KB prompt with a few entities, a fixed 64-word reply).
    body: benchBody(stream),
  });
  const cpu = cpuSeconds(pid) - before;
  const main = threadCpuSeconds(pid, pid) - mainBefore;
  const total = result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerReq: total === 0 ? NaN : (cpu / total) * 1e6,
    mainUsPerReq: total === 0 ? NaN : (main / total) * 1e6,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * Self time per function (and per file) from a .cpuprofile, as shares of the samples
 * taken after `skipMs` (start-up and warm-up left out).
 */
function summarise(file: string, skipMs: number): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const totalByFn = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(root, '').replace(/.*node_modules\//, 'nm/');
    return `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
  };
  let elapsedUs = 0;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    elapsedUs += prof.timeDeltas[i] ?? 0;
    if (elapsedUs < skipMs * 1000) continue;
    total++;
    const node = byId.get(prof.samples[i] ?? -1);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const short = url.replace(/^file:\/\//, '').replace(root, '').replace(/.*node_modules\//, 'nm/');
    const fn = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + 1);
    const fileKey = short === '' ? functionName : short.startsWith('nm/') ? short.split('/').slice(0, 2).join('/') : short;
    selfByFile.set(fileKey, (selfByFile.get(fileKey) ?? 0) + 1);
    // Inclusive time: each function once per sample, however deep it recurses.
    const onStack = new Set<string>();
    for (let at: number | undefined = node.id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n !== undefined && n.callFrame.url.includes('/dist/src/')) onStack.add(label(n));
    }
    for (const fnLabel of onStack) totalByFn.set(fnLabel, (totalByFn.get(fnLabel) ?? 0) + 1);
  }
  const rank = (m: Map<string, number>, n: number): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `samples: ${total}\n\n-- self time by function --\n${rank(selfByFn, top)}\n\n-- self time by file/package --\n${rank(selfByFile, 30)}\n\n-- inclusive time, project functions --\n${rank(totalByFn, top)}\n`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-profile-'));
  const config = join(dir, 'bench.yaml');
  writeFileSync(
    config,
    `server: { host: 127.0.0.1, port: ${GATEWAY_PORT} }
logging: { level: warn }
auth: { keys: [{ id: bench, insecurePlaintext: ${BENCH_KEY}, owner: bench }] }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { spillPath: ${join(dir, 'spill.jsonl')}, journal: ${process.env.PROFILE_JOURNAL ?? 'true'} } }
${process.env.PROFILE_EXTRA_YAML ?? 'classification: { cache: { maxChars: 0 } }'}
backends:
  - id: bench-onprem
    tier: on-prem
    region: local
    protocol: openai
    baseUrl: http://127.0.0.1:${SIM_PORT}/v1
    maxConcurrency: 1024
    connections: 256
    models: [{ id: bench-model }]
`,
  );
  const profDir = join(dir, 'prof');
  const sim = await startProcess([cli, 'simulate', '--port', String(SIM_PORT), '--name', 'bench', '--no-record'], /simulator bench on/);
  // PROFILE_NODE_FLAGS='--perf-basic-prof-only-functions' lets `perf record -p <gateway pid>` name JS frames.
  const extra = (process.env.PROFILE_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  const flags = [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...extra];
  const spawnedAt = Date.now();
  const gateway = await startServing([...flags, cli, 'serve', '--config', config], `http://127.0.0.1:${GATEWAY_PORT}/readyz`);
  const url = `http://127.0.0.1:${GATEWAY_PORT}`;
  const samples: Sample[] = [];
  let measuredFrom = 0;
  try {
    const pid = gateway.pid ?? 0;
    await load(url, pid, 3);
    measuredFrom = Date.now() - spawnedAt;
    for (let i = 0; i < rounds; i++) {
      const s = await load(url, pid, seconds);
      samples.push(s);
      process.stdout.write(
        `round ${i + 1}: ${s.rps.toFixed(0)} rps, p50 ${s.p50} ms, p99 ${s.p99} ms, ${s.cpuUsPerReq.toFixed(0)} µs CPU/req (main thread ${s.mainUsPerReq.toFixed(0)}), ${s.errors} errors\n`,
      );
    }
  } finally {
    await stopProcess(gateway);
    await stopProcess(sim);
  }
  const cpu = median(samples.map((s) => s.cpuUsPerReq));
  const mainCpu = median(samples.map((s) => s.mainUsPerReq));
  const rps = median(samples.map((s) => s.rps));
  process.stdout.write(`\n${stream ? 'streaming' : 'non-streaming'}: median ${cpu.toFixed(0)} µs CPU/req (main thread ${mainCpu.toFixed(0)}), ${rps.toFixed(0)} rps${profile ? ' (under the profiler)' : ''}\n`);
  if (profile) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const file = files[0];
    if (file !== undefined) {
      const kept = process.env.PROFILE_KEEP;
      const summary = summarise(join(profDir, file), measuredFrom);
      process.stdout.write(`\n${summary}`);
      if (kept !== undefined) writeFileSync(kept, readFileSync(join(profDir, file)));
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

// PROFILE_FILE=x.cpuprofile [PROFILE_SKIP_MS=n]: only summarise a profile kept earlier.
const only = process.env.PROFILE_FILE;
const run = only === undefined ? main() : Promise.resolve(process.stdout.write(summarise(only, Number(process.env.PROFILE_SKIP_MS ?? 0))));
run.catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
