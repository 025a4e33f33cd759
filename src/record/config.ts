import { z } from 'zod';
import { TIERS } from '../domain/tier.js';

/*
 * Config sections for records, cost, audit and alerts. Every field has a default,
 * so a config without these sections gets a working SQLite store and no sinks.
 * Kept out of config/schema.ts so the lead can mount them (`records: recordsConfigSchema.prefault({})`)
 * without this module importing the root schema (which would be a cycle).
 */

// Same rule as config/schema.ts's secretRef; duplicated to avoid the import cycle.
const secretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/\S+)$/, { message: 'must be a reference: env:NAME or file:/absolute/path (inline secrets are not accepted)' });

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

const sqliteStore = z.strictObject({
  kind: z.literal('sqlite'),
  /** Database file; relative paths are relative to the working directory. */
  path: z.string().min(1).default('perimeter-records.db'),
});

/** Also used by the bases: section, so both stores take a Postgres URL the same way. */
export const postgresStoreSchema = z
  .strictObject({
    kind: z.literal('postgres'),
    /** A URL without a password (trust, peer or certificate auth). */
    url: z.string().optional(),
    /** A URL that holds a password, by reference. */
    urlRef: secretRef.optional(),
    /** Tables live in this schema; it is created if missing. */
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lowercase SQL identifier' }).default('public'),
    poolSize: z.number().int().positive().max(100).default(4),
  })
  .superRefine((s, ctx) => {
    if ((s.url === undefined) === (s.urlRef === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of url or urlRef' });
      return;
    }
    if (s.url !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(s.url);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be a postgres:// URL' });
        return;
      }
      if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be a postgres:// URL' });
      }
      if (parsed.password !== '') {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'contains a password; put the URL in a secret and use urlRef: env:NAME or file:/path' });
      }
    }
  });

const storeSchema = z.discriminatedUnion('kind', [sqliteStore, postgresStoreSchema]);

const queueSchema = z.strictObject({
  /** Records held in memory per destination before the full behaviour applies. */
  size: z.number().int().positive().max(1_000_000).default(10_000),
  batchSize: z.number().int().positive().max(10_000).default(200),
  /** A partial batch is written after this long. */
  flushIntervalMs: z.number().int().positive().default(1_000),
  /**
   * drop_oldest / drop_newest: count the drop in perimeter_records_dropped_total and
   * log it; spill: append the record to spillPath, replayed on the next start.
   */
  whenFull: z.enum(['drop_oldest', 'drop_newest', 'spill']).default('drop_oldest'),
  spillPath: z.string().min(1).default('perimeter-records.spill.jsonl'),
  /** Attempts per batch before its records are treated as overflow. */
  writeRetries: z.number().int().min(0).max(20).default(3),
  /**
   * Append each record to a write-ahead journal (one write, no fsync) before it is
   * queued, so records of answered requests survive kill -9; replayed at the next start.
   */
  journal: z.boolean().default(true),
  /** Folder for journal segments; by default `<spillPath without .jsonl>.journal` beside the spill file. */
  journalDir: z.string().min(1).optional(),
});

const sinkBase = {
  name,
  /** Where the sink's data ends up. Content may only go to an on-prem zone. */
  zone: z.enum(['on-prem', 'cloud']),
  /** Opt-in: also send prompts and completions. Only for zone on-prem. */
  content: z.boolean().default(false),
};

const sinkSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('stdout'), ...sinkBase }),
  z.strictObject({ type: z.literal('file'), ...sinkBase, path: z.string().min(1) }),
  z.strictObject({
    type: z.literal('http'),
    ...sinkBase,
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    /** json: a JSON array per batch; otlp: OTLP/HTTP JSON logs (POST …/v1/logs). */
    format: z.enum(['json', 'otlp']).default('json'),
    /** Sent as the Authorization header. */
    authorization: secretRef.optional(),
    timeoutMs: z.number().int().positive().default(5_000),
  }),
]);

export const recordsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    store: storeSchema.default({ kind: 'sqlite', path: 'perimeter-records.db' }),
    /** Records older than this are purged. 0 keeps them forever. */
    retentionDays: z.number().int().min(0).default(90),
    purgeIntervalMinutes: z.number().int().positive().default(60),
    queue: queueSchema.prefault({}),
    sinks: z.array(sinkSchema).default([]),
  })
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.sinks.forEach((s, i) => {
      if (s.content && s.zone !== 'on-prem') {
        ctx.addIssue({
          code: 'custom',
          path: ['sinks', i, 'content'],
          message: `content (prompts and completions) may only go to a sink in zone on-prem; sink "${s.name}" is zone ${s.zone}`,
        });
      }
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sinks', i, 'name'], message: `duplicate sink name "${s.name}"` });
      seen.add(s.name);
    });
  });

const onPremRate = z.strictObject({
  /** Purchase price of the hardware serving this backend. */
  hardwareCost: z.number().nonnegative(),
  amortisationMonths: z.number().int().positive().default(36),
  /** Power, cooling, hosting, support: per month. */
  operatingCostPerMonth: z.number().nonnegative().default(0),
  /** Tokens per second the backend sustains when busy (measured). */
  busyTokensPerSecond: z.number().positive(),
  /** Utilisation assumed when pricing a single record; reports use the measured one. */
  expectedUtilisation: z.number().gt(0).max(1).default(0.5),
  /** How much more an output token costs than an input token on this hardware. */
  outputTokenWeight: z.number().positive().default(1),
});

const price = z.strictObject({ inputPer1M: z.number().nonnegative(), outputPer1M: z.number().nonnegative() });

export const costConfigSchema = z.strictObject({
  currency: z.literal('USD').default('USD'),
  /** The counterfactual: what every request would have cost on a public API. */
  reference: z
    .strictObject({ label: z.string().min(1).default('public-api'), ...price.shape })
    .default({ label: 'public-api', inputPer1M: 2.5, outputPer1M: 10 }),
  /** Blended rate inputs per on-prem backend id. Backends without an entry cost 0. */
  onPrem: z.record(name, onPremRate).default({}),
  /** Thresholds for `perimeter report tiers`, reviewed quarterly. */
  consolidation: z
    .strictObject({
      /** An on-prem workload under this many requests/day: consider private-cloud. */
      onPremMinRequestsPerDay: z.number().nonnegative().default(100),
      /** A private-cloud workload over this many requests/day: evaluate on-prem. */
      privateCloudMaxRequestsPerDay: z.number().nonnegative().default(10_000),
    })
    .prefault({}),
});

export const auditConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Append one audit entry per request decision (batched through the record queue). */
  decisions: z.boolean().default(true),
  /** Audit entries live in the records store's database unless given their own. */
  store: storeSchema.optional(),
});

const alertRule = z
  .strictObject({
    id: name,
    kind: z.enum(['error_rate', 'latency', 'breaker_open']),
    /** error_rate: 0..1; latency: milliseconds at `percentile`; breaker_open: unused. */
    threshold: z.number().nonnegative().default(0),
    percentile: z.number().gt(0).max(100).default(95),
    windowSeconds: z.number().int().positive().default(300),
    /** Too few requests in the window say nothing; the rule stays quiet below this. */
    minRequests: z.number().int().positive().default(20),
    tier: z.enum(TIERS).optional(),
    backend: name.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.kind === 'error_rate' && r.threshold > 1) ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'is a fraction from 0 to 1 for error_rate' });
    if (r.kind === 'latency' && r.threshold <= 0) ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'must be a positive number of milliseconds' });
  });

export const alertsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    intervalSeconds: z.number().int().positive().default(30),
    webhook: z
      .strictObject({
        url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
        authorization: secretRef.optional(),
        timeoutMs: z.number().int().positive().default(5_000),
      })
      .optional(),
    rules: z.array(alertRule).default([
      { id: 'error-rate', kind: 'error_rate', threshold: 0.2, percentile: 95, windowSeconds: 300, minRequests: 20 },
      { id: 'latency-p95', kind: 'latency', threshold: 10_000, percentile: 95, windowSeconds: 300, minRequests: 20 },
      { id: 'breaker-open', kind: 'breaker_open', threshold: 0, percentile: 95, windowSeconds: 300, minRequests: 20 },
    ]),
  })
  .superRefine((a, ctx) => {
    if (a.enabled && a.webhook === undefined) ctx.addIssue({ code: 'custom', path: ['webhook'], message: 'is required when alerts are enabled' });
    const seen = new Set<string>();
    a.rules.forEach((r, i) => {
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` });
      seen.add(r.id);
    });
  });

export type RecordsConfig = z.output<typeof recordsConfigSchema>;
export type StoreConfig = RecordsConfig['store'];
export type QueueConfig = RecordsConfig['queue'];
export type SinkConfig = RecordsConfig['sinks'][number];
export type CostConfig = z.output<typeof costConfigSchema>;
export type OnPremRateConfig = CostConfig['onPrem'][string];
export type AuditConfig = z.output<typeof auditConfigSchema>;
export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertRuleConfig = AlertsConfig['rules'][number];

/** Resolves an `env:`/`file:` reference; the lead passes the loader's resolver. */
export type ResolveSecret = (ref: string) => string;
