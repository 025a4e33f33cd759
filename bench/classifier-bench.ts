/**
 * Classifier speed: `tsc -b && node dist/bench/classifier-bench.js`. Single thread, so
 * the figures are per core. All detectors on (the default config).
 */
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

function measure(name: string, run: () => number, seconds = 2): { name: string; mbps: number; perCallUs: number } {
  for (let i = 0; i < 200; i++) run();
  let bytes = 0;
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    bytes += run();
    calls++;
  }
  const secs = (performance.now() - t0) / 1000;
  return { name, mbps: bytes / secs / 1e6, perCallUs: (secs * 1e6) / calls };
}

function main(): void {
  const t0 = performance.now();
  const cls = createClassifier({});
  const buildMs = performance.now() - t0;
  const big = prose(64 * 1024);
  const bigBytes = Buffer.byteLength(big);
  const chats = Array.from({ length: 64 }, (_, i) => chatRequest(i));
  const chatBytes = chats.map(bytesOf);
  let k = 0;
  const results = [
    measure('English prose, 64 KB texts', () => {
      cls.classify(big);
      return bigBytes;
    }),
    measure('2 KB chat requests (6 segments, classifySegments)', () => {
      const i = k++ % chats.length;
      cls.classifySegments(chats[i]!);
      return chatBytes[i]!;
    }),
  ];
  const avgChat = chatBytes.reduce((a, b) => a + b, 0) / chatBytes.length;
  process.stdout.write(`classifier build (createClassifier, lexicons included): ${buildMs.toFixed(0)} ms\n`);
  process.stdout.write(`average chat request: ${avgChat.toFixed(0)} bytes\n`);
  for (const r of results) process.stdout.write(`${r.name}: ${r.mbps.toFixed(1)} MB/s per core (${r.perCallUs.toFixed(0)} µs per call)\n`);
  process.stdout.write('target: >= 20 MB/s per core\n');
}

main();
