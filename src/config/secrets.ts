import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import type { Tier } from '../domain/tier.js';
import { refOutsideSource, type SecretSourceConfig } from './schema.js';

/** A resolved secret. It prints as [redacted] however it is logged or serialised. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

/**
 * The only place one tier's secrets can be read from. Each tier gets its own
 * source holding only its own env vars, so a backend handed the on-prem source
 * cannot name a cloud credential even by mistake.
 */
export class SecretSource {
  readonly tier: Tier;
  readonly #env: ReadonlyMap<string, string>;
  readonly #config: SecretSourceConfig;

  constructor(tier: Tier, config: SecretSourceConfig, env: Readonly<Record<string, string | undefined>>) {
    this.tier = tier;
    this.#config = config;
    const own = new Map<string, string>();
    for (const [name, value] of Object.entries(env)) {
      if (value !== undefined && name.startsWith(config.envPrefix)) own.set(name, value);
    }
    this.#env = own;
  }

  resolve(ref: string): Secret {
    const outside = refOutsideSource(ref, this.#config);
    if (outside !== undefined) throw new SecretError(`${ref}: ${outside} of the ${this.tier} secret source`);
    if (ref.startsWith('env:')) {
      const value = this.#env.get(ref.slice(4));
      if (value === undefined || value === '') throw new SecretError(`${ref}: environment variable is not set`);
      return new Secret(value);
    }
    try {
      return new Secret(readFileSync(ref.slice(5), 'utf8').trim());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new SecretError(`${ref}: cannot read file (${code})`);
    }
  }

  /** Like resolve, but keeps the bytes exactly (PEM bundles). */
  resolveRaw(ref: string): Secret {
    if (!ref.startsWith('file:')) return this.resolve(ref);
    const outside = refOutsideSource(ref, this.#config);
    if (outside !== undefined) throw new SecretError(`${ref}: ${outside} of the ${this.tier} secret source`);
    try {
      return new Secret(readFileSync(ref.slice(5), 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new SecretError(`${ref}: cannot read file (${code})`);
    }
  }
}

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}
