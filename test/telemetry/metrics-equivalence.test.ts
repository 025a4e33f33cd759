import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Tier } from '../../src/domain/tier.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import type { DecisionRecord, RecordStatus } from '../../src/record/decision-record.js';
import type { DropReason } from '../../src/record/queue.js';
import { createMetrics, type GatewayMetrics, type MetricsSources } from '../../src/telemetry/metrics.js';
import { sampleRecord } from '../record/support.js';
import { ReferenceMetrics } from './reference-metrics.js';

/**
 * GatewayMetrics keeps per-request series outside prom-client (keyed-metrics.ts); the
 * /metrics text must stay byte-for-byte what plain prom-client Counters and Histograms
 * gave for the same observations: names, help, types, label order, cumulative buckets
 * (le inclusive, +Inf), _sum/_count, series order.
 */

interface Variant {
  readonly tier: Tier | null;
  readonly backend: string;
  readonly model: string;
  readonly status: RecordStatus;
  readonly errorCode: ErrorCode | null;
  readonly operation: 'chat' | 'embedding';
  readonly level: string | null;
  readonly totalMs: number;
  readonly ttftMs: number | null;
  readonly overheadMs: number | null;
  readonly input: number;
  readonly output: number;
  readonly estimated: boolean;
  readonly cost: number;
  readonly findings: Readonly<Record<string, number>>;
  readonly rules: readonly string[];
  readonly fallbacks: number;
}

function record(i: number, v: Variant): DecisionRecord {
  const base = sampleRecord(i);
  const served = v.tier === null ? { model: null, backend: null, tier: null, region: null } : { model: v.model, backend: v.backend, tier: v.tier, region: 'eu' };
  return {
    ...base,
    operation: v.operation,
    stream: v.ttftMs !== null,
    served,
    status: v.status,
    errorCode: v.errorCode,
    classification: { level: v.level, findings: v.findings },
    policy: { ...base.policy, matchedRules: v.rules },
    fallbacks: v.fallbacks,
    tokens: { input: v.input, output: v.output, estimated: v.estimated },
    latency: { totalMs: v.totalMs, ttftMs: v.ttftMs, overheadMs: v.overheadMs },
    cost: { amount: v.cost, currency: 'USD', basis: v.cost > 0 ? 'price' : 'none' },
  };
}

const OK: Variant = {
  tier: 'on-prem',
  backend: 'onprem-vllm',
  model: 'llama-3.1-8b-instruct',
  status: 'ok',
  errorCode: null,
  operation: 'chat',
  level: 'internal',
  totalMs: 500,
  ttftMs: null,
  overheadMs: 3,
  input: 100,
  output: 50,
  estimated: false,
  cost: 0.0000855,
  findings: {},
  rules: [],
  fallbacks: 0,
};

/** Hand-picked: every branch of observe, and values on and around bucket bounds. */
const VARIANTS: readonly Variant[] = [
  OK,
  { ...OK, tier: 'public-api', backend: 'public-openai', model: 'gpt-4.1-mini', ttftMs: 120, totalMs: 900, level: 'public', findings: { EMAIL_ADDRESS: 2, PERSON: 1 }, cost: 0.0012 },
  { ...OK, tier: 'private-cloud', backend: 'private-azure', model: 'gpt-4o', estimated: true, input: 64, output: 256, rules: ['r1', 'r2'], fallbacks: 1, level: 'confidential' },
  { ...OK, status: 'rejected', errorCode: 'request_denied', tier: null, level: 'regulated', input: 0, output: 0, cost: 0, overheadMs: null, rules: ['deny-regulated'], findings: { IBAN: 1 } },
  { ...OK, status: 'failed', errorCode: 'upstream_error', tier: null, input: 0, output: 0, cost: 0, fallbacks: 2, totalMs: 30_000 },
  { ...OK, status: 'failed', errorCode: 'upstream_timeout', totalMs: 200_000, ttftMs: 15_000, overheadMs: 2000 },
  { ...OK, status: 'aborted', errorCode: null, ttftMs: 40, totalMs: 10 },
  { ...OK, operation: 'embedding', output: 0, input: 4096, tier: 'public-api', backend: 'public-openai', model: 'text-embedding-3-small' },
  { ...OK, level: null, status: 'rejected', errorCode: 'invalid_request', tier: null, input: 0, output: 0, cost: 0, overheadMs: 0.5 },
  // exactly on bounds: 0.01 s, 0.02 s, 0.001 s, 0.1 s; tokens 1, 4, 16
  { ...OK, totalMs: 20, ttftMs: 1, overheadMs: 1, input: 1, output: 4 },
  { ...OK, totalMs: 10, ttftMs: 100, overheadMs: 0.5, input: 16, output: 1 },
  { ...OK, totalMs: 0, ttftMs: 0, overheadMs: 0, input: 67_108_864, output: 100_000_000, findings: { EMAIL_ADDRESS: 0 } },
  { ...OK, tier: 'public-api', backend: 'public-openai', model: 'gpt-4.1-mini', status: 'rejected', errorCode: 'request_denied', level: 'confidential', fallbacks: 3, findings: { PERSON: 4, CREDIT_CARD: 1 } },
];

function pair(sources: MetricsSources = {}): { fresh: GatewayMetrics; reference: ReferenceMetrics } {
  return { fresh: createMetrics(sources), reference: new ReferenceMetrics(sources) };
}

async function assertSameText(fresh: GatewayMetrics, reference: ReferenceMetrics): Promise<void> {
  const [a, b] = await Promise.all([fresh.render(), reference.render()]);
  assert.equal(a.contentType, b.contentType);
  assert.equal(a.body, b.body);
}

describe('GatewayMetrics renders what plain prom-client rendered', () => {
  it('for every kind of record, in a mixed order, with queue events, alerts and snapshot gauges', async () => {
    const sources: MetricsSources = {
      health: () => [{ backendId: 'public-openai', breaker: 'open', latencyMs: 10, retryInMs: 1000 }],
      capacity: () => [{ backendId: 'onprem-vllm', inFlight: 4, limit: 16, utilisation: 0.25, queued: 1 }],
      tierOf: (b) => (b === 'onprem-vllm' ? 'on-prem' : 'public-api'),
      backends: ['onprem-vllm', 'public-openai'],
    };
    const { fresh, reference } = pair(sources);
    await assertSameText(fresh, reference); // nothing observed yet
    for (let i = 0; i < 200; i++) {
      const v = VARIANTS[(i * 7) % VARIANTS.length] as Variant;
      const rec = record(i, { ...v, totalMs: v.totalMs + (i % 5) * 0.1, cost: v.cost * (1 + (i % 3)) });
      fresh.observe(rec);
      reference.observe(rec);
      if (i % 17 === 0) {
        for (const m of [fresh, reference]) {
          m.written('store', i);
          m.dropped('audit', (['queue_full', 'write_failed', 'closed', 'spill_failed'] as DropReason[])[i % 4] as DropReason, 2);
          m.spilled('store', 1);
          m.writeFailed('journal');
          m.setAlert('error-rate', 'public-openai', i % 2 === 0);
        }
      }
      if (i % 50 === 0) await assertSameText(fresh, reference); // scraping mid-way changes nothing
    }
    await assertSameText(fresh, reference);
    const { body } = await fresh.render();
    assert.match(body, /gen_ai_client_operation_duration_seconds_bucket\{le="\+Inf",gen_ai_operation_name="chat"/);
    assert.match(body, /perimeter_policy_rejections_total\{code="request_denied",level="regulated"\}/);
  });

  it('for random sequences of records', async () => {
    const str = (xs: readonly string[]): fc.Arbitrary<string> => fc.constantFrom(...xs);
    const variant: fc.Arbitrary<Variant> = fc.record({
      tier: fc.constantFrom<Tier | null>('on-prem', 'private-cloud', 'public-api', null),
      backend: str(['onprem-vllm', 'private-azure', 'public-openai']),
      model: str(['llama-3.1-8b-instruct', 'gpt-4o', 'gpt-4.1-mini']),
      status: fc.constantFrom<RecordStatus>('ok', 'rejected', 'failed', 'aborted'),
      errorCode: fc.constantFrom<ErrorCode | null>(null, 'request_denied', 'upstream_error', 'rate_limited'),
      operation: fc.constantFrom<'chat' | 'embedding'>('chat', 'embedding'),
      level: fc.constantFrom<string | null>('public', 'internal', 'confidential', 'regulated', null),
      totalMs: fc.oneof(fc.double({ min: 0, max: 200_000, noNaN: true }), fc.constantFrom(10, 20, 40, 81_920, 100)),
      ttftMs: fc.option(fc.oneof(fc.double({ min: 0, max: 20_000, noNaN: true }), fc.constantFrom(1, 5, 100, 250))),
      overheadMs: fc.option(fc.double({ min: 0, max: 2000, noNaN: true })),
      input: fc.oneof(fc.nat(100_000_000), fc.constantFrom(0, 1, 4, 64, 4096)),
      output: fc.oneof(fc.nat(100_000), fc.constantFrom(0, 16, 256)),
      estimated: fc.boolean(),
      cost: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5, noNaN: true })),
      findings: fc.dictionary(str(['EMAIL_ADDRESS', 'PERSON', 'IBAN', 'CREDIT_CARD']), fc.nat(5)),
      rules: fc.subarray(['r1', 'r2', 'deny-regulated', 'prefer-onprem']),
      fallbacks: fc.nat(3),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(variant, { maxLength: 60 }), async (vs) => {
        const { fresh, reference } = pair();
        vs.forEach((v, i) => {
          const rec = record(i, v);
          fresh.observe(rec);
          reference.observe(rec);
        });
        await assertSameText(fresh, reference);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses the values prom-client refused, at the same point of observe', async () => {
    const { fresh, reference } = pair();
    const bad = [record(1, { ...OK, totalMs: Number.NaN }), record(2, { ...OK, ttftMs: Number.POSITIVE_INFINITY }), record(3, { ...OK, findings: { PERSON: -1 } }), record(4, { ...OK, cost: Number.POSITIVE_INFINITY })];
    for (const rec of bad) {
      assert.throws(() => reference.observe(rec));
      assert.throws(() => fresh.observe(rec));
      await assertSameText(fresh, reference);
    }
  });

  it('registry.resetMetrics() empties the per-request series as it did', async () => {
    const { fresh, reference } = pair();
    for (const [i, v] of VARIANTS.entries()) {
      fresh.observe(record(i, v));
      reference.observe(record(i, v));
    }
    fresh.registry.resetMetrics();
    reference.registry.resetMetrics();
    await assertSameText(fresh, reference);
    fresh.observe(record(99, VARIANTS[1] as Variant));
    reference.observe(record(99, VARIANTS[1] as Variant));
    await assertSameText(fresh, reference);
  });
});
