import { z } from 'zod';
import { refOutsideSource, secretRef } from './secret-ref.js';

export { refOutsideSource, secretRef } from './secret-ref.js';
import { classifierConfigSchema } from '../classify/config.js';
import { federationSchema, peerIdProblems } from '../federation/config.js';
import { CAPABILITIES, PROTOCOLS, TIERS } from '../domain/tier.js';
import { bundlesSchema } from '../federation/bundles/config.js';
import { basesConfigSchema } from '../federation/bases/config.js';
import { authSchema } from '../identity/config.js';
import { limitsSchema } from '../identity/limits/config.js';
import { policySchema } from '../policy/schema.js';
import { protectSchema } from '../protect/config.js';
import { injectionSchema } from '../protect/injection/config.js';
import { alertsConfigSchema, auditConfigSchema, costConfigSchema, recordsConfigSchema } from '../record/config.js';
import { routingSchema } from '../route/config.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

const price = z.strictObject({
  inputPer1M: z.number().nonnegative(),
  outputPer1M: z.number().nonnegative(),
});

const model = z.strictObject({
  /** The id clients send and /v1/models lists. */
  id: z.string().min(1).max(200),
  /** The upstream's own name for it (Azure: the deployment name). Defaults to id. */
  upstream: z.string().min(1).optional(),
  kind: z.enum(['chat', 'embedding']).default('chat'),
  capability: z.enum(CAPABILITIES).default('basic'),
  contextWindow: z.number().int().positive().default(8192),
  price: price.default({ inputPer1M: 0, outputPer1M: 0 }),
});

const timeouts = z.strictObject({
  connectMs: z.number().int().positive().default(5_000),
  /** Until the upstream's response headers arrive. */
  firstByteMs: z.number().int().positive().default(60_000),
  /** Whole call, including the body or stream. */
  totalMs: z.number().int().positive().default(600_000),
});

const tls = z.strictObject({
  /** PEM bundle of extra CAs to trust; the chain is always verified. */
  ca: secretRef.optional(),
  /** Client certificate and key for mTLS. */
  cert: secretRef.optional(),
  key: secretRef.optional(),
  servername: z.string().optional(),
});

const backend = z
  .strictObject({
    id,
    tier: z.enum(TIERS),
    region: z.string().min(1),
    protocol: z.enum(PROTOCOLS),
    baseUrl: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    credentials: secretRef.optional(),
    /** Azure OpenAI's api-version query parameter. */
    apiVersion: z.string().min(1).optional(),
    tls: tls.optional(),
    timeouts: timeouts.default({ connectMs: 5_000, firstByteMs: 60_000, totalMs: 600_000 }),
    /** Upstream connections kept per backend. */
    connections: z.number().int().positive().max(4096).default(128),
    /** In-flight requests an on-prem backend accepts; on-prem only. */
    maxConcurrency: z.number().int().positive().optional(),
    models: z.array(model).min(1),
  })
  .superRefine((b, ctx) => {
    if (b.tier === 'on-prem' && b.maxConcurrency === undefined) {
      ctx.addIssue({ code: 'custom', path: ['maxConcurrency'], message: 'is required for an on-prem backend' });
    }
    if (b.tier !== 'on-prem' && b.maxConcurrency !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['maxConcurrency'], message: 'applies to on-prem backends only' });
    }
    if (b.protocol === 'azure-openai' && b.apiVersion === undefined) {
      ctx.addIssue({ code: 'custom', path: ['apiVersion'], message: 'is required for protocol azure-openai' });
    }
    if ((b.tls?.cert === undefined) !== (b.tls?.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'cert and key must be given together' });
    }
    if (b.tls !== undefined && b.baseUrl.startsWith('http:')) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'is set but baseUrl is plain http' });
    }
    const seen = new Set<string>();
    b.models.forEach((m, i) => {
      if (seen.has(m.id)) ctx.addIssue({ code: 'custom', path: ['models', i, 'id'], message: `duplicate model id "${m.id}"` });
      seen.add(m.id);
    });
  });

/** Where one tier's backends may take secrets from. Disjoint per tier, so a tier never sees another's. */
const secretSource = z.strictObject({
  envPrefix: z.string().regex(/^[A-Z][A-Z0-9_]*$/, { message: 'must be UPPER_SNAKE_CASE' }),
  fileDir: z.string().startsWith('/', { message: 'must be an absolute path' }).optional(),
});

const secrets = z
  .strictObject({
    'on-prem': secretSource.default({ envPrefix: 'PERIMETER_ONPREM_' }),
    'private-cloud': secretSource.default({ envPrefix: 'PERIMETER_PRIVATE_CLOUD_' }),
    'public-api': secretSource.default({ envPrefix: 'PERIMETER_PUBLIC_API_' }),
  })
  .superRefine((s, ctx) => {
    const entries = TIERS.map((t) => [t, s[t]] as const);
    for (const [a, sa] of entries) {
      for (const [b, sb] of entries) {
        if (a >= b) continue;
        if (sa.envPrefix.startsWith(sb.envPrefix) || sb.envPrefix.startsWith(sa.envPrefix)) {
          ctx.addIssue({ code: 'custom', path: [b, 'envPrefix'], message: `overlaps the ${a} prefix; tiers must not share secrets` });
        }
        if (sa.fileDir !== undefined && sb.fileDir !== undefined) {
          const da = sa.fileDir.replace(/\/*$/, '/');
          const db = sb.fileDir.replace(/\/*$/, '/');
          if (da.startsWith(db) || db.startsWith(da)) {
            ctx.addIssue({ code: 'custom', path: [b, 'fileDir'], message: `overlaps the ${a} directory; tiers must not share secrets` });
          }
        }
      }
    }
  });

const server = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Largest request body accepted; larger ones get 413. */
  bodyLimitBytes: z.number().int().positive().default(4 * 1024 * 1024),
  /** How long shutdown waits for in-flight requests before closing them. */
  drainTimeoutMs: z.number().int().nonnegative().default(30_000),
  /**
   * Inference requests (/v1 chat, messages, embeddings) one process serves at once;
   * beyond it requests get 503 overloaded with Retry-After instead of queueing in memory.
   */
  maxInFlight: z.number().int().positive().default(1024),
});

const deployment = z.strictObject({
  id: id.default('default'),
  zone: z.enum(['on-prem', 'cloud']).default('on-prem'),
});

const logging = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const configSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    deployment: deployment.default({ id: 'default', zone: 'on-prem' }),
    server: server.prefault({}),
    logging: logging.default({ level: 'info' }),
    secrets: secrets.default({
      'on-prem': { envPrefix: 'PERIMETER_ONPREM_' },
      'private-cloud': { envPrefix: 'PERIMETER_PRIVATE_CLOUD_' },
      'public-api': { envPrefix: 'PERIMETER_PUBLIC_API_' },
    }),
    /** The data classifier: levels, entity levels, combinations, custom dictionaries. */
    classification: classifierConfigSchema.prefault({}),
    /** API keys, OIDC issuers, roles. See docs/identity.md. */
    auth: authSchema.prefault({}),
    /** Requests, tokens and spend per key, team and workload. */
    limits: limitsSchema.prefault({}),
    /** Sensitivity × capability → eligible tiers, workloads and rules. See docs/policy.md. */
    policy: policySchema.prefault({}),
    /** Pseudonymisation before egress, the vault, output scanning. See docs/protect.md. */
    protect: protectSchema.prefault({}),
    /** The prompt-injection guard. */
    injection: injectionSchema.prefault({}),
    /** Decision records: store, retention, write queue, sinks. See docs/records.md. */
    records: recordsConfigSchema.prefault({}),
    /** Cost: the on-prem blended rate and the public reference price. */
    cost: costConfigSchema.prefault({}),
    /** The hash-chained audit trail. */
    audit: auditConfigSchema.prefault({}),
    /** Alert rules evaluated on records, posted to a webhook. */
    alerts: alertsConfigSchema.prefault({}),
    /** How the router chooses among eligible backends, retries and falls back. */
    routing: routingSchema.prefault({}),
    /** Peer deployments: mTLS listener, client identity, allowed operations, rate limits. See docs/federation.md. */
    federation: federationSchema.prefault({}),
    /** Signed dictionaries and policy shared between deployments. See docs/bundles.md. */
    bundles: bundlesSchema.prefault({}),
    /** Knowledge Bases homed in this deployment. See docs/bases.md. */
    bases: basesConfigSchema.prefault({}),
    backends: z.array(backend).min(1),
  })
  .superRefine((c, ctx) => {
    for (const issue of peerIdProblems(c.federation, c.deployment.id)) ctx.addIssue({ code: 'custom', ...issue });
    const ids = new Set<string>();
    c.backends.forEach((b, i) => {
      if (ids.has(b.id)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'id'], message: `duplicate backend id "${b.id}"` });
      ids.add(b.id);
      const source = c.secrets[b.tier];
      const refs: [string[], string | undefined][] = [
        [['credentials'], b.credentials],
        [['tls', 'ca'], b.tls?.ca],
        [['tls', 'cert'], b.tls?.cert],
        [['tls', 'key'], b.tls?.key],
      ];
      for (const [path, ref] of refs) {
        const problem = ref === undefined ? undefined : refOutsideSource(ref, source);
        if (problem !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['backends', i, ...path], message: `${problem} of the ${b.tier} secret source` });
        }
      }
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type BackendConfig = Config['backends'][number];
export type ModelConfig = BackendConfig['models'][number];
export type SecretSourceConfig = Config['secrets']['on-prem'];
