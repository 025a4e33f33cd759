import { z } from 'zod';
import type { ModelCatalog } from './catalog.js';
import { isVirtualModel } from './virtual.js';

const backendId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be a backend id' });

const split = z
  .strictObject({
    /** A concrete model id; the split decides which of its backends goes first. */
    model: z.string().min(1),
    /** backendId → relative weight. Only the ratios matter. */
    weights: z.record(backendId, z.number().int().nonnegative().max(1_000_000)),
    /**
     * When true, backends serving the model with no (or zero) weight are never used
     * for it, not even as fallback: a drained blue/green side stays drained.
     */
    strict: z.boolean().default(false),
  })
  .refine((s) => Object.values(s.weights).some((w) => w > 0), { message: 'needs at least one positive weight', path: ['weights'] });

const queue = z.strictObject({
  /** How long a request waits for on-prem capacity when no other tier may take it. */
  maxWaitMs: z.number().int().nonnegative().max(600_000).default(2_000),
  /** Waiters per backend beyond which requests are refused at once (bounds memory). */
  maxLength: z.number().int().nonnegative().max(100_000).default(256),
  /** Sent as Retry-After with capacity_exhausted. */
  retryAfterSeconds: z.number().int().positive().max(3_600).default(1),
});

const backoff = z.strictObject({
  baseMs: z.number().int().nonnegative().default(100),
  maxMs: z.number().int().nonnegative().default(2_000),
  /** Fraction of each delay that is randomised: 0 = fixed, 1 = full jitter. */
  jitter: z.number().min(0).max(1).default(0.5),
});

const retry = z.strictObject({
  /** Calls to backends per request, across the whole fallback chain. */
  maxAttempts: z.number().int().positive().max(20).default(4),
  /** Calls to one backend before moving along the chain. */
  attemptsPerBackend: z.number().int().positive().max(10).default(2),
  backoff: backoff.default({ baseMs: 100, maxMs: 2_000, jitter: 0.5 }),
});

const breaker = z.strictObject({
  /** Failures within windowMs that open the breaker. */
  failureThreshold: z.number().int().positive().max(10_000).default(5),
  windowMs: z.number().int().positive().default(30_000),
  /** How long it stays open before one half-open probe is let through. */
  cooldownMs: z.number().int().positive().default(15_000),
});

const latency = z.strictObject({
  /** Weight of the newest sample in the moving average. */
  ewmaAlpha: z.number().gt(0).max(1).default(0.3),
  /** Assumed for a backend never observed: optimistic, so new backends get tried. */
  unknownMs: z.number().nonnegative().default(0),
});

export const routingSchema = z
  .strictObject({
    /** Strategy when the policy decision does not name one. */
    prefer: z.enum(['cost', 'latency']).default('cost'),
    /** On-prem is preferred while in-flight / maxConcurrency is below this. */
    onPremThreshold: z.number().gt(0).max(1).default(0.8),
    queue: queue.default({ maxWaitMs: 2_000, maxLength: 256, retryAfterSeconds: 1 }),
    retry: retry.default({ maxAttempts: 4, attemptsPerBackend: 2, backoff: { baseMs: 100, maxMs: 2_000, jitter: 0.5 } }),
    breaker: breaker.default({ failureThreshold: 5, windowMs: 30_000, cooldownMs: 15_000 }),
    latency: latency.default({ ewmaAlpha: 0.3, unknownMs: 0 }),
    splits: z.array(split).default([]),
  })
  .superRefine((r, ctx) => {
    if (r.retry.backoff.maxMs < r.retry.backoff.baseMs) {
      ctx.addIssue({ code: 'custom', path: ['retry', 'backoff', 'maxMs'], message: 'must be at least baseMs' });
    }
    const seen = new Set<string>();
    r.splits.forEach((s, i) => {
      if (seen.has(s.model)) ctx.addIssue({ code: 'custom', path: ['splits', i, 'model'], message: `duplicate split for model "${s.model}"` });
      seen.add(s.model);
      if (isVirtualModel(s.model)) {
        ctx.addIssue({ code: 'custom', path: ['splits', i, 'model'], message: 'splits apply to concrete models, not virtual ones' });
      }
    });
  });

export type RoutingInput = z.input<typeof routingSchema>;
export type RoutingConfig = z.output<typeof routingSchema>;
export type SplitConfig = RoutingConfig['splits'][number];

/** All defaults; what a config without a routing section gets. */
export function defaultRouting(): RoutingConfig {
  return routingSchema.parse({});
}

/**
 * Checks the routing section against the backends, which the routing schema alone
 * cannot see. Returns `path: reason` lines, empty when consistent; meant for the
 * root config's superRefine or compose-time validation.
 */
export function routingProblems(routing: RoutingConfig, catalog: ModelCatalog): string[] {
  const problems: string[] = [];
  routing.splits.forEach((s, i) => {
    const serving = new Set(catalog.find(s.model)?.map((e) => e.backendId) ?? []);
    if (serving.size === 0) problems.push(`routing.splits[${i}].model: no backend serves "${s.model}"`);
    for (const id of Object.keys(s.weights)) {
      if (serving.size > 0 && !serving.has(id)) problems.push(`routing.splits[${i}].weights.${id}: backend does not serve "${s.model}"`);
    }
  });
  for (const e of catalog.entries) {
    if (isVirtualModel(e.id)) problems.push(`backends.${e.backendId}.models: "${e.id}" is a reserved virtual model id`);
  }
  return problems;
}
