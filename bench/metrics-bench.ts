/**
 * CPU time per GatewayMetrics.observe, against the plain prom-client version it
 * replaced (test/telemetry/reference-metrics.ts), medians of rounds, interleaved so
 * both see the same machine load. Run: tsc -b && node dist/bench/metrics-bench.js
 */
import type { DecisionRecord } from '../src/record/decision-record.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { ReferenceMetrics } from '../test/telemetry/reference-metrics.js';
import { sampleRecord } from '../test/record/support.js';

interface Observer {
  observe(rec: DecisionRecord): void;
}

function cpuNsPerCall(o: Observer, records: readonly DecisionRecord[], n: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) o.observe(records[i % records.length] as DecisionRecord);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

function main(): void {
  const records: DecisionRecord[] = Array.from({ length: 1000 }, (_, i) => sampleRecord(i));
  const fresh = createMetrics();
  const reference = new ReferenceMetrics();
  const N = 100_000;
  const ROUNDS = Number(process.argv[2] ?? 9);
  cpuNsPerCall(fresh, records, 20_000);
  cpuNsPerCall(reference, records, 20_000);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    b.push(cpuNsPerCall(reference, records, N));
    a.push(cpuNsPerCall(fresh, records, N));
  }
  console.log(`GatewayMetrics.observe (prom-client per call, reference)  median ${median(b).toFixed(0)} ns CPU  rounds ${b.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`GatewayMetrics.observe (keyed series)                      median ${median(a).toFixed(0)} ns CPU  rounds ${a.map((x) => x.toFixed(0)).join(' ')}`);
}

main();
