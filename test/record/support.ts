import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Classification } from '../../src/classify/types.js';
import { ANONYMOUS, type Principal } from '../../src/domain/principal.js';
import type { Tier } from '../../src/domain/tier.js';
import { newRequestContext, type RequestContext } from '../../src/pipeline/context.js';
import type { Decision } from '../../src/policy/engine.js';
import { costConfigSchema } from '../../src/record/config.js';
import { CostModel } from '../../src/record/cost.js';
import { recordFromContext, type DecisionRecord, type RecordDeps, type RequestOutcome } from '../../src/record/decision-record.js';
import type { AttemptRecord } from '../../src/route/runner.js';

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-records-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A schema name unique to this run, so parallel test files never share tables. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

export const CATALOG = [
  { backendId: 'onprem-vllm', id: 'llama-3.1-8b-instruct', price: { inputPer1M: 0, outputPer1M: 0 } },
  { backendId: 'private-azure', id: 'gpt-4o', price: { inputPer1M: 2.5, outputPer1M: 10 } },
  { backendId: 'public-openai', id: 'gpt-4.1-mini', price: { inputPer1M: 0.4, outputPer1M: 1.6 } },
];

export const COST = costConfigSchema.parse({
  reference: { inputPer1M: 2.5, outputPer1M: 10 },
  onPrem: { 'onprem-vllm': { hardwareCost: 36_000, amortisationMonths: 36, operatingCostPerMonth: 500, busyTokensPerSecond: 2000, expectedUtilisation: 0.5 } },
});

export function deps(overrides: Partial<RecordDeps> = {}): RecordDeps {
  return {
    deploymentId: 'test',
    pricer: new CostModel(COST, CATALOG),
    knownModel: (m) => CATALOG.some((c) => c.id === m) || m.startsWith('perimeter/'),
    knownWorkload: (w) => w === 'support-bot' || w === 'research',
    now: { wallMs: () => Date.parse('2025-03-01T12:00:00.000Z'), monoMs: () => 1_000 },
    ...overrides,
  };
}

export function decision(level: string, overrides: Partial<Decision> = {}): Decision {
  return {
    policyVersion: 'abc123def456',
    level,
    capability: 'basic',
    workload: undefined,
    model: 'llama-3.1-8b-instruct',
    matrixCell: `matrix ${level}×basic`,
    eligibleTiers: ['on-prem'],
    regions: undefined,
    effects: { pseudonymizeFor: [], requireApproval: false, prefer: undefined },
    matchedRules: [],
    deny: undefined,
    excludedBy: {},
    regionRules: [],
    reasons: [],
    ...overrides,
  };
}

export interface CtxOptions {
  requestId?: string;
  principal?: Partial<Principal>;
  workloadHeader?: string;
  classification?: Classification;
  decision?: Decision;
  tier?: Tier;
  backend?: string;
  model?: string;
  attempts?: AttemptRecord[];
  receivedAt?: number;
}

export function context(o: CtxOptions = {}): RequestContext {
  const backend = o.backend ?? 'onprem-vllm';
  const tier = o.tier ?? 'on-prem';
  const model = o.model ?? 'llama-3.1-8b-instruct';
  const ctx = newRequestContext({
    requestId: o.requestId ?? 'req-1',
    signal: new AbortController().signal,
    receivedAt: o.receivedAt ?? 0,
    principal: { ...ANONYMOUS, ...o.principal },
    workloadHeader: o.workloadHeader,
  });
  ctx.classification = o.classification;
  ctx.decision = o.decision;
  ctx.route = o.decision === undefined || o.decision.deny !== undefined ? undefined : { backendId: backend, tier, region: 'eu', model, upstreamModel: model };
  ctx.attempts = o.attempts ?? (o.decision === undefined || o.decision.deny !== undefined ? [] : [{ backendId: backend, tier, region: 'eu', model, attemptNo: 1, outcome: 'ok', latencyMs: 400 }]);
  return ctx;
}

export function outcome(o: Partial<RequestOutcome> = {}): RequestOutcome {
  return { operation: 'chat', stream: false, requestedModel: 'llama-3.1-8b-instruct', usage: { inputTokens: 100, outputTokens: 50 }, endedAt: 500, ...o };
}

/** A record with sensible defaults; `timeMs` and ids vary per call. */
export function sampleRecord(i: number, o: { tier?: Tier; backend?: string; model?: string; level?: string; team?: string; workload?: string; rules?: string[]; status?: 'ok' | 'rejected' | 'failed'; timeMs?: number; input?: number; output?: number; capability?: 'basic' | 'mid' | 'frontier' } = {}): DecisionRecord {
  const tier = o.tier ?? 'on-prem';
  const backend = o.backend ?? (tier === 'on-prem' ? 'onprem-vllm' : tier === 'private-cloud' ? 'private-azure' : 'public-openai');
  const model = o.model ?? CATALOG.find((c) => c.backendId === backend)?.id ?? 'llama-3.1-8b-instruct';
  const ctx = context({
    requestId: `req-${i}`,
    principal: { id: `key-${i % 3}`, kind: 'api_key', team: o.team ?? 'payments' },
    ...(o.workload === undefined ? {} : { workloadHeader: o.workload }),
    decision: decision(o.level ?? 'internal', { matchedRules: o.rules ?? [], capability: o.capability ?? 'basic', workload: o.workload, eligibleTiers: [tier] }),
    tier,
    backend,
    model,
  });
  const t = o.timeMs ?? Date.parse('2025-03-01T12:00:00.000Z') + i * 1000;
  const rec = recordFromContext(ctx, outcome({ requestedModel: model, usage: { inputTokens: o.input ?? 100, outputTokens: o.output ?? 50 } }), deps({ now: { wallMs: () => t + 500, monoMs: () => 500 } }));
  if (o.status === undefined || o.status === 'ok') return rec;
  return { ...rec, status: o.status, errorCode: o.status === 'rejected' ? 'request_denied' : 'upstream_error', httpStatus: o.status === 'rejected' ? 403 : 502, served: { model: null, backend: null, tier: null, region: null } };
}
