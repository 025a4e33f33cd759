import { z } from 'zod';

/** One subject's caps. An absent field is no cap. */
export const limitValuesSchema = z.strictObject({
  requestsPerMinute: z.number().int().positive().optional(),
  tokensPerMinute: z.number().int().positive().optional(),
  spendPerDayUsd: z.number().nonnegative().optional(),
  spendPerMonthUsd: z.number().nonnegative().optional(),
});

const SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/\S+)$/;

/**
 * A Redis URL may carry a password, so one with credentials must be given by
 * reference; a plain redis://host:port may be written inline.
 */
const redisUrl = z
  .string()
  .refine((u) => SECRET_REF.test(u) || (/^rediss?:\/\/[^@\s]+$/.test(u)), {
    message: 'must be redis[s]://host:port without credentials, or a reference env:NAME / file:/path',
  });

const subjectMap = z.record(z.string().min(1), limitValuesSchema).default({});

/**
 * The `limits:` section. Defaults: in-memory counters, no caps at all. Budgets fail
 * closed when the shared store is unreachable (an overspend cannot be taken back);
 * rates fall back to per-instance counters (a brief over-admission is harmless).
 */
export const limitsSchema = z.strictObject({
  store: z.enum(['memory', 'redis']).default('memory'),
  redis: z
    .strictObject({
      url: redisUrl.default('redis://127.0.0.1:6379'),
      /** Every counter key starts with this; one Redis may serve several gateways. */
      keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/).default('perimeter:limits:'),
      /** A command slower than this counts as Redis being down. */
      commandTimeoutMs: z.number().int().positive().default(500),
      connectTimeoutMs: z.number().int().positive().default(2_000),
    })
    .prefault({}),
  failMode: z
    .strictObject({
      /** requests/min and tokens/min when the store is down: per-instance counters, or refuse. */
      rates: z.enum(['local', 'closed']).default('local'),
      /** spend/day and spend/month when the store is down. */
      budgets: z.enum(['closed', 'local']).default('closed'),
    })
    .prefault({}),
  /** Caps every key / team / workload gets unless something more specific says otherwise. */
  defaults: z
    .strictObject({
      key: limitValuesSchema.default({}),
      team: limitValuesSchema.default({}),
      workload: limitValuesSchema.default({}),
    })
    .prefault({}),
  /** Per-team caps replacing defaults.team field by field. */
  teams: subjectMap,
  /** Per-workload caps replacing defaults.workload field by field. */
  workloads: subjectMap,
  /** Output tokens assumed for a request that sets no max_tokens, for the reservation. */
  defaultMaxOutputTokens: z.number().int().positive().default(1024),
});

export type LimitsConfigInput = z.input<typeof limitsSchema>;
export type LimitsConfig = z.output<typeof limitsSchema>;
export type LimitValues = z.output<typeof limitValuesSchema>;
