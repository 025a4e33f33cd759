/**
 * Gateway benchmark: direct-to-simulator against via-gateway, side by side in one
 * run, interleaved and repeated, reporting medians. The simulator and the gateway
 * each run in their own process so the gateway's CPU can be read from /proc.
 *
 *   npm run bench                      # defaults below
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=32 npm run bench
 *   BENCH_EXTRA_YAML='injection: { enabled: false }' npm run bench   # a stage switched off
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cpuSeconds, median, rssMiB, startProcess, startServing, stopProcess } from './lib/processes.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connectionsList = (process.env.BENCH_CONNECTIONS ?? '32').split(',').map(Number);
const SIM_PORT = 19_301;
const GATEWAY_PORT = 19_380;
const BENCH_KEY = 'sk-perimeter-bench-0123456789';

/** A realistic ~1 KB chat body. */
function body(stream: boolean): string {
  const prose =
    'Please summarise the quarterly infrastructure review. The team migrated the build farm to the new cluster, ' +
    'reduced median queue time from eleven minutes to four, and retired two legacy services. Open risks are the ' +
    'certificate rotation schedule and the capacity plan for the inference nodes, which run close to their limit ' +
    'during the monthly reporting window. Recommend next steps and owners for each risk, and keep it short. ';
  const content = prose.repeat(3).slice(0, 1000);
  return JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'system', content: 'You are concise.' }, { role: 'user', content }] });
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  rss: number;
  errors: number;
}

async function load(url: string, connections: number, stream: boolean, pid: number | undefined): Promise<Sample> {
  const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
    body: body(stream),
  });
  const cpu = pid === undefined ? NaN : cpuSeconds(pid) - cpuBefore;
  const total = result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerReq: pid === undefined || total === 0 ? NaN : (cpu / total) * 1e6,
    rss: pid === undefined ? NaN : rssMiB(pid),
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

function summarise(samples: Sample[]): Sample {
  return {
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    cpuUsPerReq: median(samples.map((s) => s.cpuUsPerReq)),
    rss: Math.max(...samples.map((s) => s.rss)),
    errors: samples.reduce((n, s) => n + s.errors, 0),
  };
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-bench-'));
  const config = join(dir, 'bench.yaml');
  writeFileSync(
    config,
    `server: { host: 127.0.0.1, port: ${GATEWAY_PORT} }
logging: { level: warn }
# The full pipeline: authentication, classification, policy, routing, records.
auth: { keys: [{ id: bench, insecurePlaintext: ${BENCH_KEY}, owner: bench }] }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { spillPath: ${join(dir, 'spill.jsonl')} } }
${process.env.BENCH_EXTRA_YAML ?? ''}
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
  const sim = await startProcess([cli, 'simulate', '--port', String(SIM_PORT), '--name', 'bench', '--no-record'], /simulator bench on/);
  const gateway = await startServing([cli, 'serve', '--config', config], `http://127.0.0.1:${GATEWAY_PORT}/readyz`);
  const simUrl = `http://127.0.0.1:${SIM_PORT}`;
  const gatewayUrl = `http://127.0.0.1:${GATEWAY_PORT}`;
  const rows: string[] = [];
  try {
    // Warm both paths so JIT and connection pools are settled before measuring.
    await load(simUrl, 8, false, undefined);
    await load(gatewayUrl, 8, false, gateway.pid);
    for (const stream of [false, true]) {
      for (const connections of connectionsList) {
        const direct: Sample[] = [];
        const via: Sample[] = [];
        for (let round = 0; round < rounds; round++) {
          direct.push(await load(simUrl, connections, stream, undefined));
          via.push(await load(gatewayUrl, connections, stream, gateway.pid));
        }
        const d = summarise(direct);
        const g = summarise(via);
        const mode = stream ? 'streaming' : 'non-streaming';
        rows.push(`| ${mode} | ${connections} | direct to simulator | ${fmt(d.rps)} | ${fmt(d.p50, 1)} | ${fmt(d.p99, 1)} | – | – | ${d.errors} |`);
        rows.push(
          `| ${mode} | ${connections} | via Perimeter | ${fmt(g.rps)} (${fmt((g.rps / d.rps) * 100)}% of direct) | ${fmt(g.p50, 1)} | ${fmt(g.p99, 1)} | ${fmt(g.cpuUsPerReq)} | ${fmt(g.rss)} | ${g.errors} |`,
        );
        process.stdout.write(`${rows.at(-2) ?? ''}\n${rows.at(-1) ?? ''}\n`);
      }
    }
  } finally {
    await stopProcess(gateway);
    await stopProcess(sim);
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const report = `# Benchmark results

Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpu}), ${fmt(totalmem() / 2 ** 30)} GiB, Node ${process.version}.
${rounds} interleaved rounds of ${seconds} s per row; medians shown (RSS: the largest seen). Body: ~1 KB chat request.
The load generator (autocannon), the simulator and the gateway share the machine's cores, so absolute
figures are lower than on dedicated hosts; compare rows with each other.

Gateway CPU per request is the gateway process's user+system time (from /proc) divided by the
requests completed. Latency is in ms.

| mode | connections | path | requests/s | p50 | p99 | gateway CPU µs/req | gateway RSS MiB | errors |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
  writeFileSync(join(root, 'bench', 'RESULTS.md'), report);
  process.stdout.write(`\nwrote bench/RESULTS.md\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
