import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import type { Principal } from '../domain/principal.js';
import type { IssuerConfig } from './config.js';

/**
 * Why a token was refused. `message` is safe to return to the client: it never
 * contains the token or any claim value.
 */
export class JwtError extends Error {
  /** keys_unavailable = the issuer's JWKS could not be fetched; not the caller's fault. */
  readonly reason: 'invalid' | 'keys_unavailable';
  constructor(reason: 'invalid' | 'keys_unavailable', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

interface IssuerEntry {
  readonly config: IssuerConfig;
  readonly jwks: RemoteJWKSet;
}

/**
 * Verifies bearer JWTs from several OIDC issuers and maps their claims to a
 * Principal. The issuer is picked by the token's (unverified) `iss`, then the
 * signature is checked only against that issuer's keys and `iss` is checked again
 * by jose, so a token can never be verified with another issuer's keys.
 */
export class JwtVerifier {
  readonly #byIssuer: ReadonlyMap<string, IssuerEntry>;

  constructor(issuers: readonly IssuerConfig[]) {
    const map = new Map<string, IssuerEntry>();
    for (const config of issuers) {
      const jwks = createRemoteJWKSet(new URL(config.jwksUrl), {
        cacheMaxAge: config.jwksCacheMaxAgeMs,
        cooldownDuration: config.jwksCooldownMs,
        timeoutDuration: config.jwksTimeoutMs,
      });
      map.set(config.issuer, { config, jwks });
    }
    this.#byIssuer = map;
  }

  get issuerCount(): number {
    return this.#byIssuer.size;
  }

  async verify(token: string): Promise<Principal> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new JwtError('invalid', 'bearer token is not a well-formed JWT');
    }
    const entry = typeof iss === 'string' ? this.#byIssuer.get(iss) : undefined;
    if (entry === undefined) throw new JwtError('invalid', 'token issuer is not trusted');
    const { config, jwks } = entry;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: config.clockToleranceSeconds,
        requiredClaims: ['exp'],
        ...(config.maxTokenAge === undefined ? {} : { maxTokenAge: config.maxTokenAge }),
      }));
    } catch (err) {
      throw translate(err, config.name);
    }
    return mapClaims(payload, config);
  }

  /** Fetches every issuer's JWKS now, bypassing the cooldown (admin "reload", tests). */
  async reload(): Promise<void> {
    await Promise.all([...this.#byIssuer.values()].map((e) => e.jwks.reload()));
  }
}

function translate(err: unknown, issuer: string): JwtError {
  if (err instanceof errors.JWTExpired) return new JwtError('invalid', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) return new JwtError('invalid', `token claim "${err.claim}" failed validation`);
  if (err instanceof errors.JOSEAlgNotAllowed) return new JwtError('invalid', 'token signing algorithm is not allowed');
  if (err instanceof errors.JWKSNoMatchingKey) return new JwtError('invalid', 'token signing key is not among the issuer keys');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new JwtError('invalid', 'token signing key is ambiguous');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new JwtError('invalid', 'token signature is invalid');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof TypeError) {
    // fetch() raises TypeError on a refused connection; the IdP is down, not the caller wrong.
    return new JwtError('keys_unavailable', `keys of issuer ${issuer} are unavailable`, { cause: err });
  }
  if (err instanceof errors.JOSEError) return new JwtError('invalid', 'token is invalid');
  return new JwtError('keys_unavailable', `keys of issuer ${issuer} are unavailable`, { cause: err });
}

/** Reads a claim by dotted path; a literal claim name containing dots is tried first. */
export function claimAt(payload: JWTPayload, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function mapClaims(payload: JWTPayload, config: IssuerConfig): Principal {
  const sub = scalar(claimAt(payload, config.claims.subject));
  if (sub === undefined || sub === '') throw new JwtError('invalid', `token has no "${config.claims.subject}" claim`);
  const groups = [...new Set(stringList(claimAt(payload, config.claims.groups)))];
  const roles = new Set<string>(config.defaultRoles);
  for (const g of groups) for (const r of config.groupRoles[g] ?? []) roles.add(r);
  if (config.claims.roles !== undefined) for (const r of stringList(claimAt(payload, config.claims.roles))) roles.add(r);
  let team = config.claims.team === undefined ? undefined : scalar(claimAt(payload, config.claims.team));
  if (team === undefined || team === '') team = groups.map((g) => config.groupTeams[g]).find((t) => t !== undefined);
  const attributes: Record<string, string> = { idp: config.name };
  for (const [name, path] of Object.entries(config.claims.attributes)) {
    const v = scalar(claimAt(payload, path));
    if (v !== undefined) attributes[name] = v;
  }
  return Object.freeze({
    id: `${config.subjectPrefix}${sub}`,
    kind: 'jwt',
    team,
    roles: Object.freeze([...roles]),
    groups: Object.freeze(groups),
    workload: undefined,
    attributes: Object.freeze(attributes),
  });
}
