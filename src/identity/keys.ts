import type { Principal } from '../domain/principal.js';
import {
  API_KEY_PREFIX,
  displayPrefix,
  generateApiKey,
  keyState,
  newKeyId,
  type ApiKeyGrant,
  type ApiKeyRecord,
  type KeyHasher,
  type TierGrant,
} from './api-key.js';
import type { KeyStore } from './key-stores/key-store.js';
import type { LimitValues } from './limits/config.js';
import { attachScope } from './scope.js';

export interface CreateKeyInput {
  owner: string;
  team?: string | undefined;
  roles?: readonly string[] | undefined;
  workload?: string | undefined;
  models?: readonly string[] | undefined;
  tiers?: readonly TierGrant[] | undefined;
  limits?: LimitValues | undefined;
  expiresAt?: Date | undefined;
  description?: string | undefined;
}

/** The key in clear, returned exactly once: by create and rotate. */
export interface IssuedKey {
  readonly key: string;
  readonly record: ApiKeyRecord;
}

export type VerifyResult = { ok: true; record: ApiKeyRecord } | { ok: false; reason: 'unknown' | 'revoked' | 'expired' };

/** A record without its hash: what list/admin views may show. */
export type ApiKeyView = Omit<ApiKeyRecord, 'hash'> & { readonly state: 'active' | 'revoked' | 'expired' };

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

export interface ApiKeyServiceOptions {
  now?: () => Date;
}

/** Issues, verifies, revokes and rotates API keys over any KeyStore. */
export class ApiKeyService {
  readonly store: KeyStore;
  readonly #hasher: KeyHasher;
  readonly #now: () => Date;

  constructor(store: KeyStore, hasher: KeyHasher, options: ApiKeyServiceOptions = {}) {
    this.store = store;
    this.#hasher = hasher;
    this.#now = options.now ?? (() => new Date());
  }

  async create(input: CreateKeyInput): Promise<IssuedKey> {
    const key = generateApiKey();
    const record = this.#record(newKeyId(), key, input, undefined);
    await this.store.insert(record);
    return { key, record };
  }

  /** Stores a key whose value was chosen elsewhere (config-defined keys). Only the hash is kept. */
  async importKey(id: string, key: string, input: CreateKeyInput): Promise<ApiKeyRecord> {
    if (!key.startsWith(API_KEY_PREFIX)) throw new KeyError(`key ${id}: value must start with ${API_KEY_PREFIX}`);
    const record = this.#record(id, key, input, undefined);
    await this.store.insert(record);
    return record;
  }

  async verify(key: string): Promise<VerifyResult> {
    const record = await this.store.findByHash(this.#hasher.hash(key));
    if (record === undefined) return { ok: false, reason: 'unknown' };
    const state = keyState(record, this.#now());
    return state === 'active' ? { ok: true, record } : { ok: false, reason: state };
  }

  async list(): Promise<ApiKeyView[]> {
    const now = this.#now();
    return (await this.store.list()).map((r) => viewOf(r, now));
  }

  async get(id: string): Promise<ApiKeyView | undefined> {
    const r = await this.store.get(id);
    return r === undefined ? undefined : viewOf(r, this.#now());
  }

  /** Effective at once: the next lookup on any instance reads the store. */
  async revoke(id: string): Promise<ApiKeyView | undefined> {
    const r = await this.store.revoke(id, this.#now());
    return r === undefined ? undefined : viewOf(r, this.#now());
  }

  /**
   * A new key with the old one's grant. The old key is revoked now, or after
   * `graceSeconds` so deployed clients can switch over without an outage.
   */
  async rotate(id: string, options: { graceSeconds?: number } = {}): Promise<IssuedKey & { readonly old: ApiKeyView }> {
    const old = await this.store.get(id);
    if (old === undefined) throw new KeyError(`no key with id ${id}`);
    const now = this.#now();
    const state = keyState(old, now);
    if (state !== 'active') throw new KeyError(`key ${id} is ${state}; create a new one instead`);
    const key = generateApiKey();
    const record = this.#record(newKeyId(), key, old, old.id);
    await this.store.insert(record);
    const grace = Math.max(0, options.graceSeconds ?? 0);
    const revoked = await this.store.revoke(id, new Date(now.getTime() + grace * 1000));
    return { key, record, old: viewOf(revoked ?? old, now) };
  }

  #record(id: string, key: string, input: CreateKeyInput | ApiKeyGrant, rotatedFrom: string | undefined): ApiKeyRecord {
    return {
      id,
      hash: this.#hasher.hash(key),
      prefix: displayPrefix(key),
      owner: input.owner,
      team: input.team,
      roles: [...(input.roles ?? ['user'])],
      workload: input.workload,
      models: [...(input.models ?? ['*'])],
      tiers: [...(input.tiers ?? ['*'])],
      limits: { ...(input.limits ?? {}) },
      expiresAt: input.expiresAt,
      description: input.description,
      createdAt: this.#now(),
      revokedAt: undefined,
      rotatedFrom,
    };
  }
}

export function viewOf(record: ApiKeyRecord, now: Date): ApiKeyView {
  const { hash: _hash, ...rest } = record;
  return { ...rest, state: keyState(record, now) };
}

/** The principal a key authenticates as. The owner is an attribute so ABAC rules can name people. */
export function principalForKey(record: ApiKeyRecord): Principal {
  const principal: Principal = Object.freeze({
    id: record.id,
    kind: 'api_key',
    team: record.team,
    roles: Object.freeze([...record.roles]),
    groups: Object.freeze([]),
    workload: record.workload,
    attributes: Object.freeze({ owner: record.owner }),
  });
  attachScope(principal, { models: record.models, tiers: record.tiers, limits: record.limits });
  return principal;
}
