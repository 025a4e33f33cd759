/**
 * Soak: the gateway (full pipeline, SQLite records + audit trail) and a simulator,
 * each its own process, under steady mixed load on loopback for SOAK_MINUTES.
 * Samples the gateway's RSS, V8 heap and open file descriptors every
 * SOAK_SAMPLE_SECONDS and writes bench/SOAK.md with the series, the linear slope
 * per 10 minutes after warm-up, and pass/fail for flat RSS and no fd growth.
 *
 *   node dist/bench/soak.js                          # 30 minutes
 *   SOAK_MINUTES=3 node dist/bench/soak.js           # a quick check
 *   SOAK_RPS=80 SOAK_CONNECTIONS=8 SOAK_SAMPLE_SECONDS=10 SOAK_WARMUP_MINUTES=5
 *
 * Exit code 0 when both checks pass, 1 otherwise. Loopback only; the load is
 * bounded in time and count and stops by itself.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { cpuSeconds, rssMiB, stopProcess } from './lib/processes.js';

const root = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const rps = Number(process.env.SOAK_RPS ?? 60);
const connections = Number(process.env.SOAK_CONNECTIONS ?? 8);
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const warmupMinutes = Number(process.env.SOAK_WARMUP_MINUTES ?? Math.min(5, minutes / 6));
const out = process.env.SOAK_OUT ?? join(root, 'bench', 'SOAK.md');
const ADMIN_KEY = 'sk-perimeter-soak-admin-0123456789';
const USER_KEY = 'sk-perimeter-soak-user-0123456789';
/** RSS may grow this much after warm-up and still count as flat. */
const RSS_GROWTH_LIMIT = 0.1;
/** Open fds may differ by this many between the start and the end (pooled sockets come and go). */
const FD_GROWTH_LIMIT = 4;

interface Sample {
  readonly t: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly fds: number;
  readonly requests: number;
}

function configYaml(simUrl: string, dir: string): string {
  return `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 5000 }
logging: { level: info }
auth:
  required: true
  keys:
    - { id: soak-admin, insecurePlaintext: ${ADMIN_KEY}, owner: ops, roles: [admin] }
    - { id: soak-user, insecurePlaintext: ${USER_KEY}, owner: soak }
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { spillPath: ${join(dir, 'spill.jsonl')} } }
# As in the demo: confidential data may reach a public model only with placeholders.
policy:
  matrix:
    regulated: { any: [on-prem] }
    confidential: { any: [on-prem, private-cloud, public-api] }
    internal: { any: [on-prem, private-cloud] }
    public: { any: [on-prem, public-api, private-cloud] }
  rules:
    - { id: confidential-public-with-placeholders, when: { levels: [confidential] }, effects: { pseudonymize_for: [public-api] } }
backends:
  - id: onprem
    tier: on-prem
    region: eu
    protocol: openai
    baseUrl: ${simUrl}/v1
    maxConcurrency: 64
    models: [{ id: soak-onprem }]
  - id: public
    tier: public-api
    region: us
    protocol: openai
    baseUrl: ${simUrl}/v1
    models: [{ id: soak-public }]
`;
}

/** The mix: streaming and not, on-prem and public, plain text and text the classifier flags. */
const MIX: readonly { model: string; stream: boolean; content: string }[] = [
  { model: 'soak-onprem', stream: true, content: 'Summarise the release notes for the build farm migration in three bullet points.' },
  { model: 'soak-onprem', stream: false, content: 'Draft a reply to jane.doe@example.com about invoice 4471 and the delayed shipment.' },
  { model: 'soak-public', stream: true, content: 'Explain the difference between TCP flow control and congestion control briefly.' },
  { model: 'soak-public', stream: false, content: 'Write to sam.rivera@example.org: the meeting moves to Thursday at ten.' },
  { model: 'soak-public', stream: false, content: 'Refund card 4111 1111 1111 1111 for the customer, please.' },
  { model: 'soak-onprem', stream: true, content: 'List five checks before a database failover drill, with one sentence each.' },
];

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function heapMiB(url: string): Promise<number> {
  const res = await fetch(`${url}/admin/health`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const json = (await res.json()) as { process?: { heapUsed?: number } };
  return (json.process?.heapUsed ?? NaN) / 1024 / 1024;
}

/** Least-squares slope of y over t (ms), per 10 minutes. */
function slopePer10Min(samples: readonly Sample[], y: (s: Sample) => number): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const my = samples.reduce((a, s) => a + y(s), 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mt) * (y(s) - my);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 600_000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const f1 = (n: number): string => n.toFixed(1);

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-soak-'));
  const children: ChildProcess[] = [];
  try {
    const sim = await startWithUrl([cli, 'simulate', '--port', '0', '--name', 'soak-sim', '--no-record'], /simulator soak-sim on (http:\/\/\S+)/);
    children.push(sim.child);
    const simUrl = sim.url;
    const configPath = join(dir, 'perimeter.yaml');
    writeFileSync(configPath, configYaml(simUrl, dir));
    const started0 = await startWithUrl([cli, 'serve', '--config', configPath], /"url":"(http:\/\/[^"]+)"[^\n]*perimeter listening/);
    const gateway = started0.child;
    children.push(gateway);
    const { url } = started0;
    const pid = gateway.pid as number;

    const started = Date.now();
    const endAt = started + minutes * 60_000;
    const maxRequests = Math.ceil(rps * minutes * 60 * 1.1);
    const statuses = new Map<string, number>();
    let requests = 0;
    const count = (key: string): void => {
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    };
    const intervalMs = (connections * 1000) / rps;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; Date.now() < endAt && requests < maxRequests; i++) {
        const due = started + i * intervalMs + (w * intervalMs) / connections;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const pick = MIX[(w + i) % MIX.length] as (typeof MIX)[number];
        requests++;
        try {
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${USER_KEY}` },
            body: JSON.stringify({ model: pick.model, stream: pick.stream, messages: [{ role: 'user', content: pick.content }] }),
          });
          await res.arrayBuffer();
          count(String(res.status));
        } catch {
          count('network_error');
        }
      }
    };
    const samples: Sample[] = [];
    const sample = async (): Promise<void> => {
      samples.push({ t: Date.now() - started, rssMiB: rssMiB(pid), heapMiB: await heapMiB(url), fds: fdCount(pid), requests });
    };
    await sample();
    const sampler = setInterval(() => void sample().catch(() => undefined), sampleSeconds * 1000);
    const cpuBefore = cpuSeconds(pid);
    await Promise.all(Array.from({ length: connections }, (_, w) => worker(w)));
    clearInterval(sampler);
    await sample();
    const cpu = cpuSeconds(pid) - cpuBefore;
    const elapsedS = (Date.now() - started) / 1000;

    await stopProcess(gateway);
    const exitCode = gateway.exitCode;
    const db = new Database(join(dir, 'records.db'), { readonly: true, fileMustExist: true });
    const recorded = (db.prepare('SELECT COUNT(*) AS n FROM decision_records').get() as { n: number }).n;
    db.close();
    const verify = await promisify(execFile)(process.execPath, [cli, 'audit', 'verify', '--config', configPath]).then(
      (r) => r.stdout.trim(),
      (err: { stdout?: string }) => `FAILED: ${err.stdout ?? ''}`.trim(),
    );

    const afterWarmup = samples.filter((s) => s.t >= warmupMinutes * 60_000);
    const steady = afterWarmup.length >= 6 ? afterWarmup : samples.slice(Math.floor(samples.length / 2));
    const head = steady.slice(0, 3);
    const tail = steady.slice(-3);
    const rssStart = median(head.map((s) => s.rssMiB));
    const rssEnd = median(tail.map((s) => s.rssMiB));
    const fdStart = median(head.map((s) => s.fds));
    const fdEnd = median(tail.map((s) => s.fds));
    const rssGrowth = (rssEnd - rssStart) / rssStart;
    const rssFlat = rssGrowth < RSS_GROWTH_LIMIT;
    const fdFlat = fdEnd - fdStart <= FD_GROWTH_LIMIT;
    const failed = (statuses.get('network_error') ?? 0) + [...statuses].filter(([k]) => k.startsWith('5')).reduce((a, [, n]) => a + n, 0);

    const max = (y: (s: Sample) => number): number => Math.max(...samples.map(y));
    const row = (name: string, y: (s: Sample) => number, unit: string): string =>
      `| ${name} | ${f1(y(samples[0] as Sample))} | ${f1(median(head.map(y)))} | ${f1(median(tail.map(y)))} | ${f1(max(y))} | ${f1(slopePer10Min(steady, y))} ${unit} |`;
    const everyMinute = samples.filter((s, i) => i === 0 || i === samples.length - 1 || Math.floor(s.t / 60_000) !== Math.floor((samples[i - 1] as Sample).t / 60_000));
    const md = `# Soak results

\`SOAK_MINUTES=${minutes} node dist/bench/soak.js\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}.

The gateway (full pipeline: auth, classification, policy, routing, pseudonymisation, SQLite records and
audit trail) and one simulator run as separate processes; ${connections} connections send a steady
${rps} requests/s on loopback, cycling through ${MIX.length} request kinds (streaming and not, on-prem
and public-api, plain text, an e-mail address that is pseudonymised for the public model, a card
number that the policy refuses with 403 for the public model).
Samples every ${sampleSeconds} s; warm-up is the first ${f1(warmupMinutes)} min, excluded from the checks.

## Verdict

| check | result | rule |
|---|---|---|
| RSS flat | **${rssFlat ? 'PASS' : 'FAIL'}** (${rssGrowth >= 0 ? '+' : ''}${(rssGrowth * 100).toFixed(1)} %) | end vs start after warm-up, median of 3 samples each, under +${RSS_GROWTH_LIMIT * 100} % |
| no fd growth | **${fdFlat ? 'PASS' : 'FAIL'}** (${fdEnd - fdStart >= 0 ? '+' : ''}${fdEnd - fdStart}) | end vs start after warm-up, at most +${FD_GROWTH_LIMIT} |

## Series

| series | first sample | start (after warm-up) | end | max | slope after warm-up |
|---|---|---|---|---|---|
${row('RSS (MiB)', (s) => s.rssMiB, 'MiB / 10 min')}
${row('V8 heap used (MiB)', (s) => s.heapMiB, 'MiB / 10 min')}
${row('open fds', (s) => s.fds, 'fds / 10 min')}

## Load

- ${requests} requests in ${f1(elapsedS)} s (${f1(requests / elapsedS)} req/s); statuses: ${[...statuses].sort().map(([k, n]) => `${k} × ${n}`).join(', ')}
- ${failed} failed with a 5xx or a network error
- gateway CPU: ${f1(cpu)} s (${f1((cpu / elapsedS) * 100)} % of one core)
- decision records in the store after a clean SIGTERM: ${recorded} (requests sent: ${requests}); gateway exit code ${String(exitCode)}
- \`perimeter audit verify\`: ${verify}

## Samples (one a minute)

| t (min) | RSS (MiB) | heap (MiB) | fds | requests |
|---|---|---|---|---|
${everyMinute.map((s) => `| ${f1(s.t / 60_000)} | ${f1(s.rssMiB)} | ${f1(s.heapMiB)} | ${s.fds} | ${s.requests} |`).join('\n')}
`;
    writeFileSync(out, md);
    process.stdout.write(md);
    return rssFlat && fdFlat ? 0 : 1;
  } finally {
    for (const c of children) await stopProcess(c).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Spawns a node process and resolves with it and the URL its output announces (bounded: 30 s). */
function startWithUrl(args: string[], pattern: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no URL in output after 30 s: ${text}`)), 30_000);
    const onData = (d: Buffer): void => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      // Keep draining its output so a chatty child never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      resolvePromise({ child, url: m[1] });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${String(code)}: ${text}`));
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
