import type { SecretSourceConfig } from '../config/schema.js';
import type { Tier } from '../domain/tier.js';
import { KeyHasher } from './api-key.js';
import { Authenticator, type AuthFailure } from './authenticate.js';
import { Authorizer } from './authorize.js';
import type { AuthConfig } from './config.js';
import { resolveGatewaySecret } from './gateway-secret.js';
import { JwtVerifier } from './jwt.js';
import type { KeyStore } from './key-stores/key-store.js';
import { MemoryKeyStore } from './key-stores/memory.js';
import { PostgresKeyStore } from './key-stores/postgres.js';
import { SqliteKeyStore } from './key-stores/sqlite.js';
import { ApiKeyService } from './keys.js';
import type { LimitsConfig } from './limits/config.js';
import { Limiter, type LimitEvent } from './limits/limiter.js';
import type { LimitStore } from './limits/limit-store.js';
import { MemoryLimitStore } from './limits/memory-store.js';
import { RedisLimitStore } from './limits/redis-store.js';

export interface SetupEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** config.secrets: gateway secrets must lie outside every tier's source. */
  readonly tierSources: Readonly<Record<Tier, SecretSourceConfig>>;
}

export interface Identity {
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  /** The store keys are issued into (CLI, admin API). Config-defined keys are not in it. */
  readonly keys: ApiKeyService;
  readonly jwt: JwtVerifier | undefined;
  close(): Promise<void>;
}

/** Opens the configured key store. Used by createIdentity and by the CLI. */
export async function openKeyService(auth: AuthConfig, setup: SetupEnv): Promise<ApiKeyService> {
  const hasher = auth.pepper === undefined ? KeyHasher.ephemeral() : new KeyHasher(resolveGatewaySecret(auth.pepper, setup.env, setup.tierSources));
  let store: KeyStore;
  switch (auth.keyStore.kind) {
    case 'memory':
      store = new MemoryKeyStore();
      break;
    case 'sqlite':
      store = new SqliteKeyStore(auth.keyStore.path);
      break;
    case 'postgres':
      store = await PostgresKeyStore.open({
        connectionString: resolveGatewaySecret(auth.keyStore.url, setup.env, setup.tierSources).reveal(),
        table: auth.keyStore.table,
      });
      break;
  }
  return new ApiKeyService(store, hasher);
}

/**
 * Everything the HTTP layer needs for authentication and authorisation. Config keys
 * are hashed here, at load, into a per-process store of their own; their values are
 * not kept.
 */
export async function createIdentity(auth: AuthConfig, setup: SetupEnv, onFailure?: (f: AuthFailure) => void): Promise<Identity> {
  const keys = await openKeyService(auth, setup);
  const services = [keys];
  let configKeys: ApiKeyService | undefined;
  if (auth.keys.length > 0) {
    configKeys = auth.keyStore.kind === 'memory' ? keys : new ApiKeyService(new MemoryKeyStore(), KeyHasher.ephemeral());
    for (const k of auth.keys) {
      const value = k.secret === undefined ? k.insecurePlaintext : resolveGatewaySecret(k.secret, setup.env, setup.tierSources).reveal();
      if (value === undefined) continue; // schema guarantees one of the two
      await configKeys.importKey(k.id, value, { owner: k.owner, team: k.team, roles: k.roles, workload: k.workload, models: k.models, tiers: k.tiers, limits: k.limits });
    }
    if (configKeys !== keys) services.unshift(configKeys);
  }
  const jwt = auth.issuers.length > 0 ? new JwtVerifier(auth.issuers) : undefined;
  const authenticator = new Authenticator({ required: auth.required, anonymousRoles: auth.anonymousRoles, keys: services, jwt, onFailure });
  return {
    authenticator,
    authorizer: new Authorizer(auth.roles),
    keys,
    jwt,
    close: async () => {
      await keys.store.close();
      if (configKeys !== undefined && configKeys !== keys) await configKeys.store.close();
    },
  };
}

export async function createLimiter(limits: LimitsConfig, setup: SetupEnv, onEvent?: (e: LimitEvent) => void): Promise<{ limiter: Limiter; close: () => Promise<void> }> {
  let store: LimitStore;
  if (limits.store === 'redis') {
    const url = /^(env|file):/.test(limits.redis.url) ? resolveGatewaySecret(limits.redis.url, setup.env, setup.tierSources).reveal() : limits.redis.url;
    store = await RedisLimitStore.open(url, {
      commandTimeoutMs: limits.redis.commandTimeoutMs,
      connectTimeoutMs: limits.redis.connectTimeoutMs,
      onConnectionChange: (state, error) => onEvent?.({ type: 'store_connection', state, error }),
    });
  } else {
    store = new MemoryLimitStore();
  }
  const limiter = new Limiter(limits, store, onEvent === undefined ? {} : { onEvent });
  return { limiter, close: () => store.close() };
}
