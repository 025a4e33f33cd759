import type { Secret } from '../../config/secrets.js';
import type { VaultConfig } from '../config.js';
import { MemoryVault } from './memory-vault.js';
import { RedisVault } from './redis-vault.js';
import { SqliteVault } from './sqlite-vault.js';
import type { Vault } from './types.js';

/**
 * The vault the config asks for. `resolve` turns a secret reference into a Secret;
 * pass the on-prem SecretSource's resolve, since the mapping lives on-prem only.
 * No I/O happens here: stores connect on first use.
 */
export function createVault(config: VaultConfig, resolve: (ref: string) => Secret): Vault {
  const ttlMs = config.ttlSeconds * 1_000;
  if (config.kind === 'memory') return new MemoryVault({ ttlMs });
  const keys = config.keys.map((k) => ({ id: k.id, secret: resolve(k.secret) }));
  if (config.kind === 'sqlite') return new SqliteVault({ path: config.path, ttlMs, keys });
  return new RedisVault({
    url: config.redisUrl,
    keyPrefix: config.keyPrefix,
    ttlMs,
    keys,
    timeoutMs: config.timeoutMs,
    password: config.redisPassword === undefined ? undefined : resolve(config.redisPassword),
  });
}
