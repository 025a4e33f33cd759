import { z } from 'zod';

/**
 * Same rule as `secretRef` in src/config/schema.ts. Not imported from there: the root
 * schema will import this module, and the cycle would leave `secretRef` uninitialised.
 */
const secretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/\S+)$/, { message: 'must be a reference: env:NAME or file:/absolute/path (inline secrets are not accepted)' });

/**
 * The `protect:` section of the root config. Every field has a default, so
 * `protectSchema.parse({})` is a complete config: per-request in-memory vault,
 * pseudonymise every finding at or above `internal`, output scan flags only.
 */

const vaultKey = z.strictObject({
  /** Stored with each value so keys can rotate; list the new key first, keep old ones until their values expire. */
  id: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/),
  /** 32 bytes, hex (64 digits) or base64, by reference (env:/file:) in the on-prem secret source. */
  secret: secretRef,
});

const DEFAULT_VAULT = {
  kind: 'memory' as const,
  ttlSeconds: 86_400,
  path: './perimeter-vault.db',
  redisUrl: 'redis://127.0.0.1:6379',
  keyPrefix: 'perimeter:vault:',
  timeoutMs: 500,
};

const vault = z
  .strictObject({
    /** memory: per request (and per conversation within one process); sqlite / redis: per conversation, encrypted at rest. */
    kind: z.enum(['memory', 'sqlite', 'redis']).default('memory'),
    /** A conversation's mapping lives this long after its last turn. */
    ttlSeconds: z.number().int().positive().max(31 * 86_400).default(DEFAULT_VAULT.ttlSeconds),
    /** SQLite database file (kind: sqlite). */
    path: z.string().min(1).default(DEFAULT_VAULT.path),
    /** Redis URL (kind: redis), without credentials: those come from `redisPassword`. */
    redisUrl: z.url({ protocol: /^rediss?$/ }).default(DEFAULT_VAULT.redisUrl),
    /** Redis AUTH password, by reference in the on-prem secret source. */
    redisPassword: secretRef.optional(),
    keyPrefix: z.string().min(1).max(100).default(DEFAULT_VAULT.keyPrefix),
    /** A store operation slower than this refuses the request (503 pseudonymization_unavailable). */
    timeoutMs: z.number().int().positive().max(30_000).default(DEFAULT_VAULT.timeoutMs),
    keys: z.array(vaultKey).max(16).default([]),
  })
  .superRefine((v, ctx) => {
    if (v.kind !== 'memory' && v.keys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['keys'], message: `a ${v.kind} vault encrypts at rest and needs at least one key` });
    }
    const ids = new Set<string>();
    v.keys.forEach((k, i) => {
      if (ids.has(k.id)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'id'], message: `duplicate key id "${k.id}"` });
      ids.add(k.id);
    });
    if (/\/\/[^/@]*@/.test(v.redisUrl)) {
      ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'must not contain credentials' });
    }
  });

const pseudonymize = z.strictObject({
  /**
   * A finding is pseudonymised when its entity's level (the classification's entity
   * table) is at least this level name or default rank. Default `internal`: everything
   * but URL, LOCATION, AGE and ORGANIZATION with the built-in table.
   */
  minLevel: z.union([z.string().min(1), z.number().int().min(0)]).default('internal'),
  /** Always pseudonymised, whatever their level. */
  include: z.array(z.string().min(1)).default([]),
  /** Never pseudonymised (e.g. URL when the model must fetch it). */
  exclude: z.array(z.string().min(1)).default([]),
  /** Findings below this score are left alone (the classifier's threshold applies first). */
  minScore: z.number().min(0).max(1).default(0),
});

const output = z.strictObject({
  /** What to do with sensitive data in an answer that was not in the request. */
  action: z.enum(['off', 'flag', 'mask', 'block']).default('flag'),
  /**
   * Streaming: characters held back so a value split across chunks is seen whole.
   * Values longer than this may be released in part before they are recognised.
   * Costs up to this many characters (about a quarter as many tokens) of time to first token.
   */
  windowChars: z.number().int().min(16).max(4096).default(128),
});

export const protectSchema = z.strictObject({
  pseudonymize: pseudonymize.prefault({}),
  vault: vault.prefault({}),
  output: output.prefault({}),
});

export type ProtectConfig = z.output<typeof protectSchema>;
export type ProtectConfigInput = z.input<typeof protectSchema>;
export type VaultConfig = ProtectConfig['vault'];
