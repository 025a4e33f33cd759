/**
 * Classifier speed: `tsc -b && node dist/bench/classifier-bench.js`. Single thread, so
 * the figures are per core. All detectors on (the default config).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createClassifier, type Segment } from '../src/classify/index.js';

const SENTENCES = [
  'The quarterly report shows revenue growth across the EMEA region, driven mostly by renewals.',
  'Please summarise the main risks for the board meeting next Tuesday and keep it under one page.',
  'Our team migrated the billing service to a new cluster, which reduced latency by about forty percent.',
  'Customers asked for clearer pricing, so marketing rewrote the plans page and simplified the tiers.',
  'When the cache is cold the first request takes longer, but subsequent requests are served from memory.',
  'The committee will review the proposal in March and publish its recommendations before the summer.',
  'Write a friendly reply thanking the customer for the feedback and promising an update within two weeks.',
  'In 2023 the company opened offices in Berlin and Toronto and hired 120 engineers across both sites.',
  'The function returns a promise that resolves once every upload has finished or one of them has failed.',
  'Historians still debate why the treaty collapsed so quickly after it was signed by both parties.',
  'Ask Jennifer whether the slides for the keynote are final, and send them to the design team afterwards.',
  'Version 4.2 fixed the memory leak, although the dashboard still reports occasional spikes at midnight.',
];

function prose(bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += SENTENCES[(i * 7) % SENTENCES.length] + (i % 5 === 4 ? '\n\n' : ' ');
  return out.slice(0, bytes);
}

/** A ~2 KB chat request: system prompt, a few turns, one tool result; some carry PII. */
function chatRequest(i: number): Segment[] {
  const pii = i % 4 === 0 ? ` Reach me at jane.doe${i}@corp-mail.com or +1 415 555 01${String(i % 90).padStart(2, '0')}.` : '';
  const segs: Segment[] = [
    { path: 'messages[0].content', text: 'You are a helpful assistant for the finance team. Answer concisely and cite the policy section when relevant. ' + prose(260) },
    { path: 'messages[1].content', text: prose(420) + pii },
    { path: 'messages[2].content', text: prose(380) },
    { path: 'messages[3].tool_calls[0].function.arguments.query', text: `invoices overdue since 2024-0${(i % 9) + 1}-15 for region EMEA` },
    { path: 'messages[4].content', text: prose(520) },
    { path: 'messages[5].content', text: prose(340) },
  ];
  return segs;
}

function bytesOf(segs: Segment[]): number {
  let n = 0;
  for (const s of segs) n += Buffer.byteLength(s.text);
  return n;
}

interface Measured {
  name: string;
  /** Wall-clock MB/s per round. */
  rounds: number[];
  /** MB/s over process CPU time (user + system) for all rounds: less sensitive to other load on the machine. */
  cpuMbps: number;
  perCallUs: number;
}

/**
 * Rounds of `seconds` each, after a warm-up; the machine is shared, so one figure is
 * not enough: we report the median round with the min–max spread, and the rate over
 * CPU time (which does not count time the process spent descheduled).
 */
function measure(name: string, run: () => number, rounds: number, seconds: number): Measured {
  for (let i = 0; i < 500; i++) run();
  const out: number[] = [];
  let totalBytes = 0;
  let totalCalls = 0;
  let totalSecs = 0;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    let bytes = 0;
    let calls = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      bytes += run();
      calls++;
    }
    const secs = (performance.now() - t0) / 1000;
    out.push(bytes / secs / 1e6);
    totalBytes += bytes;
    totalCalls += calls;
    totalSecs += secs;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  return { name, rounds: out, cpuMbps: totalBytes / cpuSecs / 1e6, perCallUs: (totalSecs * 1e6) / totalCalls };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

const BEGIN = '<!-- bench:classifier begin -->';
const END = '<!-- bench:classifier end -->';

/** Replaces (or appends) the speed section of bench/CLASSIFIER-RESULTS.md; the eval keeps it when it rewrites the file. */
function writeSection(md: string): void {
  const path = join(repoRoot(), 'bench', 'CLASSIFIER-RESULTS.md');
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '# Classifier evaluation\n';
  const block = `${BEGIN}\n${md}\n${END}`;
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  const next = a >= 0 && b > a ? old.slice(0, a) + block + old.slice(b + END.length) : `${old.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

/**
 * Multi-turn chats as clients send them: request t holds turns 0..t. Each conversation's
 * text is its own, so only its own earlier turns can be cache hits. Classifiers with and
 * without the segment cache take the same requests, interleaved by conversation.
 */
function conversations(): string[] {
  const TURNS = 12;
  const COUNT = 60;
  const chats = Array.from({ length: COUNT }, (_, c) =>
    Array.from({ length: TURNS }, (_, t) => `${prose(300 + ((c * 37 + t * 53) % 300))} (conversation ${c}, turn ${t})${t % 3 === 0 ? ` Reach me at user${c}@corp-mail.com.` : ''}`),
  );
  const requests = (chat: string[]): Segment[][] => chat.map((_, t) => chat.slice(0, t + 1).map((text, i) => ({ path: `messages[${i}].content`, text })));
  const on = createClassifier({});
  const off = createClassifier({ cache: { maxChars: 0 } });
  const cpu = { on: 0, off: 0 };
  let calls = 0;
  // Warm both up on conversations not measured.
  for (const seg of requests(chats[0]!.map((t) => `${t} warm-up`))) {
    on.classifySegments(seg);
    off.classifySegments(seg);
  }
  for (const chat of chats) {
    const reqs = requests(chat);
    for (const which of ['on', 'off'] as const) {
      const cls = which === 'on' ? on : off;
      const c0 = process.cpuUsage();
      for (const r of reqs) cls.classifySegments(r);
      const c = process.cpuUsage(c0);
      cpu[which] += c.user + c.system;
    }
    calls += reqs.length;
  }
  const stats = on.cacheStats();
  return [
    `### Multi-turn conversations (${COUNT} conversations of ${TURNS} turns, 300–600 characters per turn; request t resends turns 0..t)`,
    '',
    '| classifier | µs CPU per request (mean over all turns) |',
    '| --- | ---: |',
    `| segment cache off | ${(cpu.off / calls).toFixed(0)} |`,
    `| segment cache on (default) | ${(cpu.on / calls).toFixed(0)} |`,
    '',
    `With the cache: ${stats.hits} hits, ${stats.misses} misses, ${stats.entries} entries holding ${stats.chars} characters at the end.`,
  ];
}

function main(): void {
  const t0 = performance.now();
  // The workloads below repeat their texts; the segment cache would answer them from memory.
  const cls = createClassifier({ cache: { maxChars: 0 } });
  const buildMs = performance.now() - t0;
  const big = prose(64 * 1024);
  const bigBytes = Buffer.byteLength(big);
  const chats = Array.from({ length: 64 }, (_, i) => chatRequest(i));
  const chatBytes = chats.map(bytesOf);
  let k = 0;
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 7);
  const results: Measured[] = [];
  // Interleave the workloads round by round, so a burst of load on the machine hits both.
  const prRun = (): number => {
    cls.classify(big);
    return bigBytes;
  };
  const chatRun = (): number => {
    const i = k++ % chats.length;
    cls.classifySegments(chats[i]!);
    return chatBytes[i]!;
  };
  const prose1: Measured[] = [];
  const chat1: Measured[] = [];
  for (let r = 0; r < rounds; r++) {
    if (only === undefined || only === 'prose') prose1.push(measure('prose', prRun, 1, 1));
    if (only === undefined || only === 'chat') chat1.push(measure('chat', chatRun, 1, 1));
  }
  const merge = (name: string, ms: Measured[]): Measured | null =>
    ms.length === 0
      ? null
      : {
          name,
          rounds: ms.flatMap((m) => m.rounds),
          cpuMbps: median(ms.map((m) => m.cpuMbps)),
          perCallUs: median(ms.map((m) => m.perCallUs)),
        };
  for (const m of [merge('English prose, 64 KB texts', prose1), merge('2 KB chat requests (6 segments, classifySegments)', chat1)]) {
    if (m !== null) results.push(m);
  }
  const avgChat = chatBytes.reduce((a, b) => a + b, 0) / chatBytes.length;
  const lines = [
    '## Speed (`npm run bench:classifier`)',
    '',
    `Generated on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, one thread, all detectors on (default config). ` +
      `${rounds} interleaved rounds of 1 s per workload after a warm-up; the machine is shared, so the median round is given with the min–max spread, ` +
      'and the rate over process CPU time (median of rounds), which does not count time spent descheduled by other load.',
    '',
    `Classifier build (createClassifier, lexicons included): ${buildMs.toFixed(0)} ms. Average chat request: ${avgChat.toFixed(0)} bytes.`,
    '',
    '| workload | MB/s per core (median round) | spread (min–max) | MB/s over CPU time | µs per call (median) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${median(r.rounds).toFixed(1)} | ${Math.min(...r.rounds).toFixed(1)}–${Math.max(...r.rounds).toFixed(1)} | ${r.cpuMbps.toFixed(1)} | ${r.perCallUs.toFixed(0)} |`,
    ),
    '',
    'Target: ≥ 20 MB/s per core (the rows above run with the segment cache off, since their texts repeat).',
    '',
    ...conversations(),
  ];
  const md = lines.join('\n');
  process.stdout.write(md + '\n');
  if (only === undefined && !process.argv.includes('--no-write')) writeSection(md);
}

main();
