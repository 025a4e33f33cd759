import { randomBytes } from 'node:crypto';
import { ANONYMOUS, type Principal } from '../../src/domain/principal.js';

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Unique per test run so parallel runs and leftovers never collide. */
export function runId(): string {
  return `${process.pid}_${randomBytes(4).toString('hex')}`;
}

export function principal(overrides: Partial<Principal> = {}): Principal {
  return Object.freeze({ ...ANONYMOUS, id: 'p1', kind: 'jwt', ...overrides });
}

/** A test pepper; real ones come from a secret reference. */
export const PEPPER = new Uint8Array(32).fill(7);
