import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { LimitStoreError, type Adjustment, type Charge, type LimitStore, type ReserveOutcome } from './limit-store.js';

/**
 * Check every counter, then add to all of them — inside one script, so no other
 * client's reservation can run between the check and the add (Redis runs scripts
 * atomically). Returns 0 on success, else the 1-based index of the first refusal.
 */
const RESERVE = `
local n = #KEYS
for i = 1, n do
  local amount = tonumber(ARGV[3 * i - 2])
  if amount > 0 then
    local current = tonumber(redis.call('GET', KEYS[i]) or '0')
    if current + amount > tonumber(ARGV[3 * i - 1]) then return i end
  end
end
for i = 1, n do
  local amount = tonumber(ARGV[3 * i - 2])
  if amount ~= 0 then
    redis.call('INCRBY', KEYS[i], amount)
    if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[3 * i]) end
  end
end
return 0
`;

/** Corrections never drop a counter below zero and never resurrect an expired one with a negative value. */
const ADJUST = `
for i = 1, #KEYS do
  local delta = tonumber(ARGV[2 * i - 1])
  if delta > 0 then
    redis.call('INCRBY', KEYS[i], delta)
    if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
  elseif delta < 0 then
    local current = tonumber(redis.call('GET', KEYS[i]) or '0')
    if current > 0 then redis.call('INCRBY', KEYS[i], math.max(delta, -current)) end
  end
end
return 0
`;

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');
const RESERVE_SHA = sha1(RESERVE);
const ADJUST_SHA = sha1(ADJUST);

export interface RedisLimitStoreOptions {
  /** Fail a command after this long, so a hung Redis is "down" rather than a stalled request. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Called when the connection drops or comes back; the limiter logs it. */
  onConnectionChange?: (state: 'up' | 'down', error?: Error) => void;
}

/**
 * Counters shared by every gateway instance. Commands are never queued while
 * disconnected: they fail at once, and the limiter applies its fail mode. The client
 * keeps reconnecting in the background.
 */
export class RedisLimitStore implements LimitStore {
  readonly #redis: Redis;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Never throws for an unreachable server: the store starts "down" and recovers when Redis does. */
  static async open(url: string, options: RedisLimitStoreOptions = {}): Promise<RedisLimitStore> {
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    });
    const report = options.onConnectionChange;
    let up = false;
    redis.on('ready', () => {
      up = true;
      report?.('up');
    });
    // Without a listener ioredis prints every connection error; the limiter reports instead.
    redis.on('error', (err: Error) => {
      if (up) report?.('down', err);
      up = false;
    });
    try {
      await redis.connect();
    } catch (err) {
      report?.('down', err instanceof Error ? err : new Error(String(err)));
    }
    return new RedisLimitStore(redis);
  }

  async reserve(charges: readonly Charge[]): Promise<ReserveOutcome> {
    if (charges.length === 0) return { ok: true };
    const args = charges.flatMap((c) => [String(Math.trunc(c.amount)), String(Math.trunc(c.limit)), String(Math.max(1, Math.trunc(c.ttlMs)))]);
    const result = await this.#script(RESERVE, RESERVE_SHA, charges.map((c) => c.key), args);
    const index = Number(result);
    return index === 0 ? { ok: true } : { ok: false, index: index - 1 };
  }

  async adjust(adjustments: readonly Adjustment[]): Promise<void> {
    const live = adjustments.filter((a) => Math.trunc(a.delta) !== 0);
    if (live.length === 0) return;
    const args = live.flatMap((a) => [String(Math.trunc(a.delta)), String(Math.max(1, Math.trunc(a.ttlMs)))]);
    await this.#script(ADJUST, ADJUST_SHA, live.map((a) => a.key), args);
  }

  async peek(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    try {
      const values = await this.#redis.mget(...keys);
      return values.map((v) => (v === null ? 0 : Number(v)));
    } catch (err) {
      throw new LimitStoreError('redis unavailable', { cause: err });
    }
  }

  /** Test clean-up: deletes every key under a prefix (SCAN, never KEYS). */
  async deletePrefix(prefix: string): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await this.#redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  async #script(source: string, sha: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      try {
        return await this.#redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        // First use on this server (or after SCRIPT FLUSH): send the source once.
        if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return await this.#redis.eval(source, keys.length, ...keys, ...args);
        throw err;
      }
    } catch (err) {
      throw new LimitStoreError('redis unavailable', { cause: err });
    }
  }
}
