/**
 * Gateway benchmark. Every path is measured side by side in one run, interleaved
 * (the order rotates each round) and repeated, and medians are reported:
 *
 *   direct          autocannon → simulator
 *   bare proxy      a bare Node + undici proxy (the baseline the CPU target is stated against)
 *   fastify proxy   Fastify + undici, the body parsed and re-serialised: the floor of the gateway's own stack
 *   full            Perimeter: auth with a key, classifier on a ~2 KB prompt, policy, records + audit on SQLite
 *   classifier off  the same Perimeter config with every detector switched off
 *   portkey         Portkey's open-source gateway (installed into .bench/portkey by this script)
 *   full ×2         the full pipeline on `perimeter serve --workers 2` (non-streaming, 32 connections)
 *
 * Each server runs in its own process; gateway CPU comes from /proc (the process and
 * its children), so the load generator's own CPU is not counted. Before anything is
 * measured, each path must deliver a marked request to the simulator (checked through
 * the simulator's /_sim/received); a path that does not is reported as failed.
 *
 *   npm run bench
 *   BENCH_SECONDS=3 BENCH_ROUNDS=1 BENCH_CONNECTIONS=32 npm run bench     # a quick pass
 *   BENCH_PORTKEY=0 BENCH_SCALE=0 BENCH_MODES=non-streaming npm run bench
 *   BENCH_EXTRA_YAML='injection: { enabled: false }' npm run bench        # a stage switched off (both Perimeter paths)
 *   BENCH_OUT=/tmp/results.md npm run bench                              # write the report elsewhere
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { createClassifier } from '../src/classify/classifier.js';
import { ensurePortkey, HONO_NODE_SERVER_PIN, PORTKEY_VERSION } from './lib/portkey.js';
import { median, percentile, processTree, startProcess, startServing, stopProcess, treeCpuSeconds, treeRssMiB } from './lib/processes.js';
import { BENCH_REPLY, benchBody } from './lib/workload.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got "${raw}"`);
  return n;
}

const seconds = num('BENCH_SECONDS', 6);
const rounds = num('BENCH_ROUNDS', 3);
const warmSeconds = num('BENCH_WARM_SECONDS', 8);
/**
 * Node flags for every server process in the run (simulator, proxies, Perimeter, Portkey
 * alike): a 64 MB young generation, the tuning docs/operations.md recommends for the
 * gateway. With the 16 MB default a 2 KB chat request's garbage fills it every ~80
 * requests and the collector runs about four times as often (figures in docs/operations.md).
 */
const nodeOptions = process.env.BENCH_NODE_OPTIONS ?? '--max-semi-space-size=64';
const serverEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', nodeOptions].join(' ').trim() };
const connectionsList = (process.env.BENCH_CONNECTIONS ?? '32,256').split(',').map(Number);
const modes = (process.env.BENCH_MODES ?? 'non-streaming,streaming').split(',').map((m) => m.trim() === 'streaming');
const ttftRequests = num('BENCH_TTFT_REQUESTS', 200);
const ttftConcurrency = num('BENCH_TTFT_CONCURRENCY', 2);
const withPortkey = process.env.BENCH_PORTKEY !== '0';
const withScale = process.env.BENCH_SCALE !== '0';
const outFile = process.env.BENCH_OUT ?? join(root, 'bench', 'RESULTS.md');

const SIM_PORT = 19_301;
const BARE_PORT = 19_379;
const FULL_PORT = 19_380;
const OFF_PORT = 19_381;
const PORTKEY_PORT = 19_382;
const CLUSTER_PORT = 19_383;
const FLOOR_PORT = 19_384;
const BENCH_KEY = 'sk-perimeter-bench-0123456789';
const simUrl = `http://127.0.0.1:${SIM_PORT}`;

type PathId = 'direct' | 'bare' | 'floor' | 'full' | 'off' | 'portkey' | 'full2';

interface BenchPath {
  readonly id: PathId;
  readonly label: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The server process whose tree's CPU and RSS are the path's cost; none for direct. */
  readonly pid: number | undefined;
  /** Why the path is not measured in a mode (start-up or forwarding check failed). */
  readonly failed: Map<boolean, string>;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  rss: number;
  errors: number;
}

const JSON_HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };

/**
 * Every request here repeats one prompt, so the classifier's segment cache would answer all
 * but the first from memory and the table would show the cache, not the classifier. A real
 * single-turn workload has new text each time; multi-turn gains are in CLASSIFIER-RESULTS.md.
 */
const NO_CACHE = 'cache: { maxChars: 0 }';

function perimeterYaml(port: number, dir: string, extra: string): string {
  return `server: { host: 127.0.0.1, port: ${port} }
logging: { level: warn }
# The full pipeline: authentication with a key, classification, policy, routing, records and the audit chain.
auth: { keys: [{ id: bench, insecurePlaintext: ${BENCH_KEY}, owner: bench }] }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { spillPath: ${join(dir, 'spill.jsonl')} } }
${extra}
${process.env.BENCH_EXTRA_YAML ?? ''}
backends:
  - id: bench-onprem
    tier: on-prem
    region: local
    protocol: openai
    baseUrl: ${simUrl}/v1
    maxConcurrency: 1024
    connections: 256
    models: [{ id: bench-model }]
`;
}

/**
 * There is no classifier on/off switch in the config (see the report); the closest
 * knob is switching every detector off and the cross-segment scan with them, which
 * leaves segment extraction and normalisation running.
 */
function classifierOffYaml(): string {
  const ids = createClassifier().detectorIds;
  return `classification: { crossSegment: false, ${NO_CACHE}, disabled: [${ids.map((id) => JSON.stringify(id)).join(', ')}] }`;
}

async function load(path: BenchPath, connections: number, stream: boolean, duration: number): Promise<Sample> {
  const cpuBefore = path.pid === undefined ? NaN : treeCpuSeconds(path.pid);
  const result = await autocannon({
    url: `${path.url}/v1/chat/completions`,
    method: 'POST',
    connections,
    duration,
    headers: path.headers,
    body: benchBody(stream),
  });
  const cpu = path.pid === undefined ? NaN : treeCpuSeconds(path.pid) - cpuBefore;
  const total = result.requests.total;
  return {
    rps: total / Math.max(result.duration, 1e-9),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerReq: total === 0 ? NaN : (cpu / total) * 1e6,
    rss: path.pid === undefined ? NaN : treeRssMiB(path.pid),
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

function summarise(samples: readonly Sample[]): Sample {
  return {
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    cpuUsPerReq: median(samples.map((s) => s.cpuUsPerReq)),
    rss: Math.max(...samples.map((s) => s.rss)),
    errors: samples.reduce((n, s) => n + s.errors, 0),
  };
}

/** Sends one marked request through the path and checks the answer and that the simulator received it. */
async function verify(path: BenchPath, stream: boolean): Promise<string | undefined> {
  const nonce = randomUUID();
  try {
    await fetch(`${simUrl}/_sim/received`, { method: 'DELETE' });
    const res = await fetch(`${path.url}/v1/chat/completions`, { method: 'POST', headers: path.headers, body: benchBody(stream, nonce) });
    const text = await res.text();
    if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 160)}`;
    if (stream) {
      if (!text.includes('data: [DONE]')) return 'the stream did not end with [DONE]';
      const words = text.match(/"content":"[^"]*"/g)?.length ?? 0;
      if (words < BENCH_REPLY.split(' ').length) return `the stream carried ${words} content chunks`;
    } else {
      const json = JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] };
      if (json.choices?.[0]?.message?.content !== BENCH_REPLY) return 'the answer is not the simulator’s reply';
    }
    const received = (await (await fetch(`${simUrl}/_sim/received`)).json()) as { body: unknown }[];
    if (!received.some((r) => JSON.stringify(r.body).includes(nonce))) return 'the request never reached the simulator';
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

interface TtftResult {
  samples: number[];
  errors: number;
}

async function ttftOnce(pool: Pool, path: BenchPath): Promise<number> {
  const t0 = performance.now();
  const res = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: path.headers, body: benchBody(true) });
  let first = NaN;
  for await (const chunk of res.body) {
    if (Number.isNaN(first) && (chunk as Buffer).length > 0) first = performance.now();
  }
  return res.statusCode === 200 ? first - t0 : NaN;
}

/** Time to the first body byte of a streamed answer, few connections, paths interleaved request by request. */
async function probeTtft(paths: readonly BenchPath[]): Promise<Map<PathId, TtftResult>> {
  const out = new Map<PathId, TtftResult>(paths.map((p) => [p.id, { samples: [], errors: 0 }]));
  const pools = new Map(paths.map((p) => [p.id, new Pool(p.url, { connections: ttftConcurrency })]));
  const warm = 5;
  try {
    const steps = Math.ceil(ttftRequests / ttftConcurrency) + warm;
    for (let step = 0; step < steps; step++) {
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(i + step) % paths.length] as BenchPath;
        const pool = pools.get(path.id) as Pool;
        const results = await Promise.all(Array.from({ length: ttftConcurrency }, () => ttftOnce(pool, path).catch(() => NaN)));
        if (step < warm) continue;
        const r = out.get(path.id) as TtftResult;
        for (const ms of results) {
          if (Number.isFinite(ms)) r.samples.push(ms);
          else r.errors++;
        }
      }
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
  }
  return out;
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const mode = (stream: boolean): string => (stream ? 'streaming' : 'non-streaming');

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-bench-'));
  const load0 = loadavg();
  const started = Date.now();
  const procs: ChildProcess[] = [];
  const paths: BenchPath[] = [];
  const notes: string[] = [];
  const addPath = (id: PathId, label: string, url: string, pid: number | undefined, headers: Record<string, string> = JSON_HEADERS): void => {
    paths.push({ id, label, url, headers, pid, failed: new Map() });
  };
  const failedPath = (id: PathId, label: string, reason: string): void => {
    paths.push({ id, label, url: '', headers: {}, pid: undefined, failed: new Map([[false, reason], [true, reason]]) });
  };

  try {
    // Recording stays on so every path can be checked to reach the simulator; it costs all paths the same.
    const sim = await startProcess([cli, 'simulate', '--port', String(SIM_PORT), '--name', 'bench'], /simulator bench on/, serverEnv);
    procs.push(sim);
    addPath('direct', 'direct to simulator', simUrl, undefined);

    const bare = await startProcess([join(root, 'dist', 'bench', 'bare-proxy.js'), String(BARE_PORT), simUrl], /bare proxy on/, serverEnv);
    procs.push(bare);
    addPath('bare', 'bare Node+undici proxy', `http://127.0.0.1:${BARE_PORT}`, bare.pid);

    const floor = await startProcess([join(root, 'dist', 'bench', 'fastify-proxy.js'), String(FLOOR_PORT), simUrl], /fastify proxy on/, serverEnv);
    procs.push(floor);
    addPath('floor', 'Fastify+undici proxy (JSON parsed, no gateway work)', `http://127.0.0.1:${FLOOR_PORT}`, floor.pid);

    const fullDir = mkdtempSync(join(dir, 'full-'));
    const fullConfig = join(fullDir, 'bench.yaml');
    writeFileSync(fullConfig, perimeterYaml(FULL_PORT, fullDir, `classification: { ${NO_CACHE} }`));
    const full = await startServing([cli, 'serve', '--config', fullConfig], `http://127.0.0.1:${FULL_PORT}/readyz`, serverEnv);
    procs.push(full);
    addPath('full', 'Perimeter, full pipeline', `http://127.0.0.1:${FULL_PORT}`, full.pid);

    const offDir = mkdtempSync(join(dir, 'off-'));
    const offConfig = join(offDir, 'bench.yaml');
    writeFileSync(offConfig, perimeterYaml(OFF_PORT, offDir, classifierOffYaml()));
    const off = await startServing([cli, 'serve', '--config', offConfig], `http://127.0.0.1:${OFF_PORT}/readyz`, serverEnv);
    procs.push(off);
    addPath('off', 'Perimeter, classifier off', `http://127.0.0.1:${OFF_PORT}`, off.pid);

    if (withPortkey) {
      const install = ensurePortkey(root);
      if ('error' in install) {
        failedPath('portkey', `Portkey ${PORTKEY_VERSION}`, install.error);
      } else {
        try {
          const preload = pathToFileURL(join(root, 'dist', 'bench', 'lib', 'loopback-only.js')).href;
          const portkey = await startProcess(
            ['--import', preload, install.entry, `--port=${PORTKEY_PORT}`, '--headless'],
            /Ready for connections/,
            { ...serverEnv, NODE_ENV: 'production' },
            install.dir,
          );
          procs.push(portkey);
          addPath('portkey', `Portkey ${install.version}`, `http://127.0.0.1:${PORTKEY_PORT}`, portkey.pid, {
            ...JSON_HEADERS,
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': `${simUrl}/v1`,
          });
        } catch (err) {
          failedPath('portkey', `Portkey ${PORTKEY_VERSION}`, `did not start: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
        }
      }
    }

    if (withScale) {
      const clusterDir = mkdtempSync(join(dir, 'cluster-'));
      const clusterConfig = join(clusterDir, 'bench.yaml');
      writeFileSync(clusterConfig, perimeterYaml(CLUSTER_PORT, clusterDir, ''));
      const cluster = await startServing([cli, 'serve', '--config', clusterConfig, '--workers', '2'], `http://127.0.0.1:${CLUSTER_PORT}/readyz`, serverEnv);
      procs.push(cluster);
      // Ready once both workers exist and have had time to listen (bounded wait).
      for (let i = 0; i < 300 && cluster.pid !== undefined && processTree(cluster.pid).length < 3; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 2000));
      addPath('full2', 'Perimeter, full pipeline, 2 processes', `http://127.0.0.1:${CLUSTER_PORT}`, cluster.pid);
    }

    for (const path of paths) {
      for (const stream of modes) {
        if (path.failed.has(stream)) continue;
        const problem = await verify(path, stream);
        if (problem !== undefined) path.failed.set(stream, problem);
        process.stdout.write(`check ${path.label}, ${mode(stream)}: ${problem === undefined ? 'reaches the simulator' : `FAILED — ${problem}`}\n`);
      }
    }
    const usable = (stream: boolean, scaleRow: boolean): BenchPath[] =>
      paths.filter((p) => !p.failed.has(stream) && (p.id !== 'full2' || scaleRow));

    // Warm every path so JIT and connection pools are settled before measuring.
    for (const stream of modes) {
      for (const path of usable(stream, true)) await load(path, 32, stream, warmSeconds);
    }

    // Added time-to-first-token: idle machine, a few connections, streamed requests.
    const ttftPaths = modes.includes(true) ? usable(true, false) : [];
    const ttft = ttftPaths.length > 0 ? await probeTtft(ttftPaths) : new Map<PathId, TtftResult>();

    const results = new Map<string, Sample>();
    const key = (stream: boolean, c: number, id: PathId): string => `${mode(stream)}/${c}/${id}`;
    for (const stream of modes) {
      for (const connections of connectionsList) {
        const scaleRow = withScale && !stream && connections === 32;
        const group = usable(stream, scaleRow);
        const samples = new Map<PathId, Sample[]>(group.map((p) => [p.id, []]));
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < group.length; i++) {
            const path = group[(i + round) % group.length] as BenchPath;
            const s = await load(path, connections, stream, seconds);
            samples.get(path.id)?.push(s);
            process.stdout.write(
              `${mode(stream)} c=${connections} round ${round + 1}/${rounds} ${path.label}: ${fmt(s.rps)} req/s, p99 ${fmt(s.p99, 1)} ms, ${fmt(s.cpuUsPerReq)} µs/req, ${s.errors} errors\n`,
            );
          }
        }
        for (const [id, list] of samples) results.set(key(stream, connections, id), summarise(list));
      }
    }

    // ---- report ----
    const get = (stream: boolean, c: number, id: PathId): Sample | undefined => results.get(key(stream, c, id));
    const rows: string[] = [];
    for (const stream of modes) {
      for (const c of connectionsList) {
        const direct = get(stream, c, 'direct');
        for (const path of paths) {
          if (path.id === 'full2') continue;
          const failure = path.failed.get(stream);
          if (failure !== undefined) {
            rows.push(`| ${mode(stream)} | ${c} | ${path.label} | FAILED: ${failure} | | | | | | |`);
            continue;
          }
          const s = get(stream, c, path.id);
          if (s === undefined) continue;
          const share = direct === undefined || path.id === 'direct' ? '' : ` (${fmt((s.rps / direct.rps) * 100)}%)`;
          rows.push(
            `| ${mode(stream)} | ${c} | ${path.label} | ${fmt(s.rps)}${share} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${fmt(s.cpuUsPerReq)} | ${fmt(s.rss)} | ${s.errors} |`,
          );
        }
      }
    }

    const ttftRows: string[] = [];
    const directTtft = ttft.get('direct');
    const d50 = directTtft === undefined ? NaN : percentile(directTtft.samples, 50);
    const d99 = directTtft === undefined ? NaN : percentile(directTtft.samples, 99);
    let fullAdded99 = NaN;
    const addedTtft99 = new Map<PathId, number>();
    for (const path of paths) {
      const t = ttft.get(path.id);
      if (t === undefined) {
        const failure = path.failed.get(true);
        if (failure !== undefined && path.id !== 'full2') ttftRows.push(`| ${path.label} | FAILED: ${failure} | | | | |`);
        continue;
      }
      const p50 = percentile(t.samples, 50);
      const p99 = percentile(t.samples, 99);
      if (path.id === 'full') fullAdded99 = p99 - d99;
      addedTtft99.set(path.id, p99 - d99);
      const added = path.id === 'direct' ? '| – | –' : `| ${fmt(p50 - d50, 2)} | ${fmt(p99 - d99, 2)}`;
      ttftRows.push(`| ${path.label} | ${fmt(p50, 2)} | ${fmt(p99, 2)} ${added} | ${t.samples.length}${t.errors > 0 ? ` (${t.errors} errors)` : ''} |`);
    }

    // Targets, judged on non-streaming at 32 connections (the issue author's reference figures).
    const fullNs = get(false, 32, 'full');
    const bareNs = get(false, 32, 'bare');
    const targets: string[] = [];
    const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**');
    const cpuOk = fullNs === undefined ? undefined : fullNs.cpuUsPerReq <= 115;
    targets.push(`| full-pipeline gateway CPU per request ≤ 115 µs (non-streaming, 32 conn.) | ${fmt(fullNs?.cpuUsPerReq ?? NaN)} µs | ${verdict(cpuOk)} |`);
    const ratio = fullNs === undefined || bareNs === undefined ? NaN : fullNs.cpuUsPerReq / bareNs.cpuUsPerReq;
    targets.push(
      `| … and ≤ 1.5× a bare Node+undici proxy (same run: ${fmt(bareNs?.cpuUsPerReq ?? NaN)} µs) | ${fmt(ratio, 2)}× | ${verdict(Number.isFinite(ratio) ? ratio <= 1.5 : undefined)} |`,
    );
    const throughputRatios: string[] = [];
    let minRatio = Infinity;
    for (const stream of modes) {
      for (const c of connectionsList) {
        const f = get(stream, c, 'full');
        const p = get(stream, c, 'portkey');
        if (f === undefined || p === undefined) continue;
        const r = f.rps / p.rps;
        minRatio = Math.min(minRatio, r);
        throughputRatios.push(`${mode(stream)}/${c}: ${fmt(r, 1)}×`);
      }
    }
    targets.push(
      `| throughput ≥ 10× Portkey's (full pipeline ÷ Portkey, every cell) | ${throughputRatios.length === 0 ? '–' : throughputRatios.join('; ')} | ${verdict(throughputRatios.length === 0 ? undefined : minRatio >= 10)} |`,
    );
    targets.push(`| added time-to-first-token p99 ≤ 1 ms (full pipeline, idle, ${ttftConcurrency} conn.) | ${fmt(fullAdded99, 2)} ms | ${verdict(Number.isFinite(fullAdded99) ? fullAdded99 <= 1 : undefined)} |`);

    // What the machine allows at all: the same targets applied to the proxies that do no gateway work.
    const ceilings: string[] = [];
    const floorNs = get(false, 32, 'floor');
    if (bareNs !== undefined && floorNs !== undefined) {
      ceilings.push(`| Fastify+undici floor ÷ bare proxy, CPU per request (non-streaming, 32 conn.) | ${fmt(floorNs.cpuUsPerReq / bareNs.cpuUsPerReq, 2)}× (${fmt(floorNs.cpuUsPerReq)} ÷ ${fmt(bareNs.cpuUsPerReq)} µs): what is left of the 1.5× budget for all gateway work is ${fmt(Math.max(0, 1.5 * bareNs.cpuUsPerReq - floorNs.cpuUsPerReq))} µs |`);
    }
    const ceilingRatios: string[] = [];
    for (const stream of modes) {
      for (const c of connectionsList) {
        const p = get(stream, c, 'portkey');
        const bare = get(stream, c, 'bare');
        const fl = get(stream, c, 'floor');
        if (p === undefined || bare === undefined) continue;
        ceilingRatios.push(`${mode(stream)}/${c}: bare ${fmt(bare.rps / p.rps, 1)}×${fl === undefined ? '' : `, floor ${fmt(fl.rps / p.rps, 1)}×`}`);
      }
    }
    if (ceilingRatios.length > 0) ceilings.push(`| throughput of the proxies that do no gateway work ÷ Portkey's | ${ceilingRatios.join('; ')} |`);
    const bareT = addedTtft99.get('bare');
    const floorT = addedTtft99.get('floor');
    if (bareT !== undefined || floorT !== undefined) {
      ceilings.push(`| added time-to-first-token p99 of the proxies that do no gateway work | bare ${fmt(bareT ?? NaN, 2)} ms, floor ${fmt(floorT ?? NaN, 2)} ms |`);
    }

    const one = get(false, 32, 'full');
    const two = get(false, 32, 'full2');
    const scaleRows: string[] = [];
    if (one !== undefined && two !== undefined) {
      scaleRows.push(`| 1 (\`perimeter serve\`) | ${fmt(one.rps)} | ${fmt(one.p50, 1)} | ${fmt(one.p99, 1)} | ${fmt(one.cpuUsPerReq)} | ${fmt(one.rss)} | ${one.errors} |`);
      scaleRows.push(
        `| 2 (\`--workers 2\`, primary + 2 workers) | ${fmt(two.rps)} (${fmt(two.rps / one.rps, 2)}×) | ${fmt(two.p50, 1)} | ${fmt(two.p99, 1)} | ${fmt(two.cpuUsPerReq)} | ${fmt(two.rss)} | ${two.errors} |`,
      );
    } else if (withScale) {
      const failure = paths.find((p) => p.id === 'full2')?.failed.get(false);
      scaleRows.push(`| 2 | FAILED: ${failure ?? 'not measured'} | | | | | |`);
    }
    if (withPortkey) {
      notes.push(
        `Portkey: \`@portkey-ai/gateway@${PORTKEY_VERSION}\` installed by this script into \`.bench/portkey\` with \`@hono/node-server\` pinned to ${HONO_NODE_SERVER_PIN}: with the newer versions npm picks, Portkey fails every streamed chat completion on Node with \`TypeError: immutable\` (Portkey-AI/gateway#1389, #1550). Started with \`--headless\`, \`NODE_ENV=production\` and a preload that binds it to 127.0.0.1; requests carry \`x-portkey-provider: openai\` and \`x-portkey-custom-host\` pointing at the simulator.`,
      );
    }
    const load1 = loadavg();
    const minutes = (Date.now() - started) / 60_000;
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const report = `# Benchmark results

Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${gitCommit()}: ${cpus().length} cores (${cpu}), ${fmt(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${fmt(minutes, 1)} minutes.
Load average before / after: ${load0.map((l) => l.toFixed(1)).join(' ')} / ${load1.map((l) => l.toFixed(1)).join(' ')}.
The load generator (autocannon, in the bench process), the simulator and the gateways share these cores${load0[0] !== undefined && load0[0] > cpus().length ? ', and other work was running on the machine during this run (see the load average), so figures are noisy and lower than on a quiet or dedicated host' : ''}; compare rows of one run with each other.

Settings: ${rounds} interleaved rounds of ${seconds} s per cell (the path order rotates every round), medians shown (RSS: the largest seen); ${warmSeconds} s warm-up per path and mode.
Request: a ~2 KB chat prompt (prose with a name, an email address, a phone number, an IP address and a URL; the classifier rates it confidential), the same for every path; the simulator answers a fixed 64-word reply (streamed: 66 SSE events and \`[DONE]\`).
Node flags for every server process (simulator, proxies, Perimeter, Portkey): \`NODE_OPTIONS=${nodeOptions}\` (\`BENCH_NODE_OPTIONS\` overrides it).
Fastify+undici proxy: the same framework and HTTP client as Perimeter with the body parsed and serialised again and the answer streamed back as bytes, and nothing else (bench/fastify-proxy.ts): the floor of the stack Perimeter is built on.
Perimeter: one process, auth with an API key, default classifier, policy, injection guard, records and audit chain on SQLite (\`logging: warn\`). "Classifier off" switches every detector and the cross-segment scan off (there is no single switch), everything else equal.
${notes.join('\n')}

Gateway CPU per request: user+system time of the gateway's process tree (for the cluster: primary and workers) from \`/proc\`, over the measured window, divided by the requests completed. RSS: summed over the tree. Latency in ms (autocannon; p99 is of whole responses, streams included).

## Targets

| target | measured | |
|---|---|---|
${targets.join('\n')}
${ceilings.length === 0 ? '' : `
What this machine allows at all (the same measures for the two proxies that do no gateway work):

| measure | value |
|---|---|
${ceilings.join('\n')}
`}
## Throughput, latency, CPU, memory

| mode | connections | path | requests/s (% of direct) | p50 ms | p99 ms | gateway CPU µs/req | gateway RSS MiB | errors |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

## Added time-to-first-token

Streamed requests, ${ttftConcurrency} concurrent connections per path, ${ttftRequests} requests per path after 5 warm-up rounds, paths interleaved request by request, idle (no other load from this bench). Time from sending the request to the first body byte; "added" is the path's percentile minus the direct path's.

| path | p50 ms | p99 ms | added p50 ms | added p99 ms | samples |
|---|---|---|---|---|---|
${ttftRows.join('\n')}

## Scale-out: 1 against 2 processes

Full pipeline, non-streaming, 32 connections, measured in the same interleaved rounds as the table above. The two workers share one SQLite records/audit file (see docs/scaling.md). On this ${cpus().length}-core machine the load generator and the simulator compete with the workers for the same cores, so this shows the overhead and correctness of the cluster more than its scaling.

| processes | requests/s | p50 ms | p99 ms | gateway CPU µs/req | RSS MiB | errors |
|---|---|---|---|---|---|---|
${scaleRows.join('\n')}
`;
    writeFileSync(outFile, report);
    process.stdout.write(`\n${report}\nwrote ${outFile}\n`);
  } finally {
    for (const p of procs.reverse()) await stopProcess(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
