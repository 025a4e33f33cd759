import { createHmac, randomBytes } from 'node:crypto';
import type { Secret } from '../config/secrets.js';
import type { Tier } from '../domain/tier.js';
import type { LimitValues } from './limits/config.js';

/** Every key starts with this, so secret scanners (and our own classifier) can spot a leaked one. */
export const API_KEY_PREFIX = 'sk-perimeter-';

/** Characters of the random part kept for display; enough to tell keys apart, far too few to guess. */
const SHOWN_RANDOM_CHARS = 4;

export type TierGrant = Tier | '*';

/** What a key may do. Stored with the hash; the key itself is never stored. */
export interface ApiKeyGrant {
  readonly owner: string;
  readonly team: string | undefined;
  readonly roles: readonly string[];
  /** A workload the key is bound to; it wins over the x-perimeter-workload header. */
  readonly workload: string | undefined;
  /** Client model ids the key may call; "*" = any its roles allow. */
  readonly models: readonly string[];
  readonly tiers: readonly TierGrant[];
  /** The key's own caps, replacing the limits.defaults.key ones field by field. */
  readonly limits: LimitValues;
  readonly expiresAt: Date | undefined;
  readonly description: string | undefined;
}

export interface ApiKeyRecord extends ApiKeyGrant {
  /** Stable, public identifier: what logs, records and the CLI show. */
  readonly id: string;
  /** HMAC-SHA256(pepper, key), hex. */
  readonly hash: string;
  /** The first characters of the key, e.g. "sk-perimeter-Ab3x". */
  readonly prefix: string;
  readonly createdAt: Date;
  /** From this instant on the key is refused. May lie in the future (rotation grace). */
  readonly revokedAt: Date | undefined;
  /** The key this one replaced, when issued by rotate. */
  readonly rotatedFrom: string | undefined;
}

export type KeyState = 'active' | 'revoked' | 'expired';

export function keyState(record: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: Date): KeyState {
  if (record.revokedAt !== undefined && record.revokedAt.getTime() <= now.getTime()) return 'revoked';
  if (record.expiresAt !== undefined && record.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/** 32 characters of base64url: 192 bits from the CSPRNG. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
}

export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX);
}

/** Never more than a quarter of the random part, so a short config-defined key is not shown whole. */
export function displayPrefix(key: string): string {
  const random = Math.max(0, key.length - API_KEY_PREFIX.length);
  return key.slice(0, API_KEY_PREFIX.length + Math.min(SHOWN_RANDOM_CHARS, Math.floor(random / 4)));
}

/**
 * Keyed hashing. A plain SHA-256 of a 192-bit random key would already resist
 * guessing, but config-defined keys can be short and human-chosen; the pepper
 * (kept outside the database) makes a stolen key table useless on its own.
 */
export class KeyHasher {
  readonly #pepper: Buffer;

  constructor(pepper: Secret | Uint8Array) {
    const bytes = pepper instanceof Uint8Array ? Buffer.from(pepper) : Buffer.from(pepper.reveal(), 'utf8');
    if (bytes.length < 16) throw new Error('auth pepper must be at least 16 bytes');
    this.#pepper = bytes;
  }

  /** A per-process pepper, for in-memory stores whose keys are re-hashed on every start. */
  static ephemeral(): KeyHasher {
    return new KeyHasher(randomBytes(32));
  }

  hash(key: string): string {
    return createHmac('sha256', this.#pepper).update(key, 'utf8').digest('hex');
  }
}
