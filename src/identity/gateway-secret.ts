import { readFileSync } from 'node:fs';
import { refOutsideSource } from '../config/secret-ref.js';
import type { SecretSourceConfig } from '../config/schema.js';
import { Secret, SecretError } from '../config/secrets.js';
import { TIERS, type Tier } from '../domain/tier.js';

/**
 * Resolves a secret that belongs to the gateway itself (the key-hash pepper, the
 * key-store URL), not to any tier. It must lie OUTSIDE every tier's secret source:
 * a backend, which only ever holds its own tier's SecretSource, then has no way to
 * name it, and no tier credential can double as the pepper.
 */
export function resolveGatewaySecret(
  ref: string,
  env: Readonly<Record<string, string | undefined>>,
  tierSources: Readonly<Record<Tier, SecretSourceConfig>>,
): Secret {
  for (const tier of TIERS) {
    if (refOutsideSource(ref, tierSources[tier]) === undefined) {
      throw new SecretError(`${ref}: lies inside the ${tier} secret source; gateway secrets must not share a tier's`);
    }
  }
  if (ref.startsWith('env:')) {
    const value = env[ref.slice(4)];
    if (value === undefined || value === '') throw new SecretError(`${ref}: environment variable is not set`);
    return new Secret(value);
  }
  if (!ref.startsWith('file:/')) throw new SecretError('secret must be a reference: env:NAME or file:/absolute/path');
  try {
    return new Secret(readFileSync(ref.slice(5), 'utf8').trim());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SecretError(`${ref}: cannot read file (${code})`);
  }
}
