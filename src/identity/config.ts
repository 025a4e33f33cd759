import { z } from 'zod';
import { secretRef } from '../config/secret-ref.js';
import { TIERS } from '../domain/tier.js';
import { API_KEY_PREFIX } from './api-key.js';
import { limitValuesSchema } from './limits/config.js';

export { limitsSchema, type LimitsConfig, type LimitsConfigInput, type LimitValues } from './limits/config.js';

/**
 * The `auth:` section. Every field has a default, so `authSchema.parse({})` is a
 * complete, closed configuration: authentication required, in-memory key store, no
 * keys, no issuers — every request is refused until keys or issuers are added.
 */

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

/** An allow list; "*" alone means anything. */
const allowList = z.array(z.string().min(1)).default([]);

/** A claim path: a claim name, or dotted for nested claims (Keycloak's realm_access.roles). */
const claimPath = z.string().regex(/^[A-Za-z0-9_:/$-]+(\.[A-Za-z0-9_:/$-]+)*$/, { message: 'must be a claim name, dotted for nested claims' });

export const roleSchema = z.strictObject({
  description: z.string().max(500).optional(),
  /** Client model ids this role may call (virtual ones such as perimeter/auto included). */
  models: allowList,
  tiers: z.array(z.union([z.enum(TIERS), z.literal('*')])).default([]),
  workloads: allowList,
  /** Knowledge Bases (issue 9) this role may query. */
  bases: allowList,
  /** Bases this role may ingest into and request moves from (also needs read access to the Base). */
  basesWrite: allowList,
  /** May approve or reject a move of documents between deployments (never one's own request). */
  mayApproveMoves: z.boolean().default(false),
  /** Access to /admin/*: read (viewer) or write (admin); none by default. */
  admin: z.enum(['none', 'read', 'write']).default('none'),
  /** May lower the classifier's level with a caller label (x-perimeter-sensitivity). */
  mayLowerSensitivity: z.boolean().default(false),
});

/** Built in so a fresh install has an admin for the admin API and a viewer for the UI. */
export const DEFAULT_ROLES = {
  admin: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: ['*'], mayApproveMoves: true, admin: 'write', mayLowerSensitivity: false },
  viewer: { models: [], tiers: [], workloads: [], bases: [], basesWrite: [], mayApproveMoves: false, admin: 'read', mayLowerSensitivity: false },
  user: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: [], mayApproveMoves: false, admin: 'none', mayLowerSensitivity: false },
} as const satisfies Record<string, z.input<typeof roleSchema>>;


/** A key defined in the config; its value is hashed at load and never kept. */
const configKey = z
  .strictObject({
    id: name,
    /** Where the key's value is read from. */
    secret: secretRef.optional(),
    /** The key's value written into the config. Demo configs only: anyone reading the file can use it. */
    insecurePlaintext: z.string().startsWith(API_KEY_PREFIX, { message: `must start with ${API_KEY_PREFIX}` }).min(API_KEY_PREFIX.length + 4).optional(),
    owner: z.string().min(1).max(200),
    team: z.string().min(1).max(200).optional(),
    roles: z.array(z.string().min(1)).default(['user']),
    workload: z.string().min(1).optional(),
    models: z.array(z.string().min(1)).default(['*']),
    tiers: z.array(z.union([z.enum(TIERS), z.literal('*')])).default(['*']),
    limits: limitValuesSchema.default({}),
  })
  .refine((k) => (k.secret === undefined) !== (k.insecurePlaintext === undefined), { message: 'give exactly one of secret or insecurePlaintext' });

const issuer = z.strictObject({
  /** A short name used in logs and errors; the `iss` value itself may be long. */
  name,
  /** Must equal the token's `iss` exactly. */
  issuer: z.url(),
  jwksUrl: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  /** Tokens must name one of these in `aud`. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'])).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  clockToleranceSeconds: z.number().int().nonnegative().max(600).default(60),
  /** Longest accepted token age (from `iat`), e.g. "12h"; unset = exp alone decides. */
  maxTokenAge: z.string().regex(/^\d+[smhd]$/).optional(),
  /** How long a fetched JWKS is trusted before it is fetched again. */
  jwksCacheMaxAgeMs: z.number().int().nonnegative().default(600_000),
  /** Least time between two fetches triggered by an unknown kid (protects the IdP from a token flood). */
  jwksCooldownMs: z.number().int().nonnegative().default(30_000),
  jwksTimeoutMs: z.number().int().positive().default(5_000),
  /** Prepended to `sub` so two issuers' subjects cannot collide (e.g. "corp:"). */
  subjectPrefix: z.string().max(64).default(''),
  claims: z
    .strictObject({
      subject: claimPath.default('sub'),
      groups: claimPath.default('groups'),
      /** A claim holding role names directly, taken as is. */
      roles: claimPath.optional(),
      team: claimPath.optional(),
      /** Principal attribute → claim path, e.g. clearance: ext.clearance. */
      attributes: z.record(z.string().min(1), claimPath).default({}),
    })
    .prefault({}),
  /** IdP group → Perimeter roles: your existing group structure maps to roles here. */
  groupRoles: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
  /** IdP group → team, used when the team claim is absent. First match in the token's group order wins. */
  groupTeams: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** Roles every token from this issuer gets, on top of mapped ones. */
  defaultRoles: z.array(z.string().min(1)).default([]),
});

const keyStore = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('memory') }),
  z.strictObject({ kind: z.literal('sqlite'), path: z.string().min(1) }),
  z.strictObject({
    kind: z.literal('postgres'),
    /** A reference, since a connection URL usually carries a password. */
    url: secretRef,
    table: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('perimeter_api_keys'),
  }),
]);

export const authSchema = z
  .strictObject({
    /** false = development only: requests without a credential run as the anonymous principal. */
    required: z.boolean().default(true),
    /** Roles given to the anonymous principal when `required` is false. */
    anonymousRoles: z.array(z.string().min(1)).default(['user']),
    /**
     * Server secret keyed into every stored key hash, so a leaked key table cannot be
     * brute-forced offline. Required for sqlite/postgres stores; a memory store uses a
     * per-process random one (its keys are re-hashed at every start anyway).
     */
    pepper: secretRef.optional(),
    keyStore: keyStore.default({ kind: 'memory' }),
    keys: z.array(configKey).default([]),
    issuers: z.array(issuer).default([]),
    roles: z.record(name, roleSchema).default(() => z.record(name, roleSchema).parse(DEFAULT_ROLES)),
  })
  .superRefine((a, ctx) => {
    if (a.keyStore.kind !== 'memory' && a.pepper === undefined) {
      ctx.addIssue({ code: 'custom', path: ['pepper'], message: `is required for a ${a.keyStore.kind} key store` });
    }
    const seen = new Set<string>();
    a.keys.forEach((k, i) => {
      if (seen.has(k.id)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'id'], message: `duplicate key id "${k.id}"` });
      seen.add(k.id);
      k.roles.forEach((r, j) => {
        if (!(r in a.roles)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'roles', j], message: `unknown role "${r}"` });
      });
    });
    const issuers = new Set<string>();
    a.issuers.forEach((iss, i) => {
      if (issuers.has(iss.issuer)) ctx.addIssue({ code: 'custom', path: ['issuers', i, 'issuer'], message: 'the same issuer is configured twice' });
      issuers.add(iss.issuer);
      for (const [group, roles] of Object.entries(iss.groupRoles)) {
        roles.forEach((r, j) => {
          if (!(r in a.roles)) ctx.addIssue({ code: 'custom', path: ['issuers', i, 'groupRoles', group, j], message: `unknown role "${r}"` });
        });
      }
    });
    // Only meaningful when anonymous callers exist; a closed config need not define their role.
    if (!a.required) a.anonymousRoles.forEach((r, j) => {
      if (!(r in a.roles)) ctx.addIssue({ code: 'custom', path: ['anonymousRoles', j], message: `unknown role "${r}"` });
    });
  });

export type AuthConfigInput = z.input<typeof authSchema>;
export type AuthConfig = z.output<typeof authSchema>;
export type RoleConfig = z.output<typeof roleSchema>;
export type IssuerConfig = AuthConfig['issuers'][number];
export type ConfigKey = AuthConfig['keys'][number];
export type KeyStoreConfig = AuthConfig['keyStore'];
