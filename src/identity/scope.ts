import type { Principal } from '../domain/principal.js';
import type { TierGrant } from './api-key.js';
import type { LimitValues } from './limits/config.js';

/**
 * What a credential narrows on top of its roles: a key's own allowed models, tiers
 * and caps. The Principal shape is shared with the policy engine and stays as it is,
 * so the narrowing travels beside it, keyed by the (frozen) principal object the
 * authenticator minted. A principal built anywhere else has no scope: roles alone.
 */
export interface CredentialScope {
  readonly models: readonly string[];
  readonly tiers: readonly TierGrant[];
  readonly limits: LimitValues;
}

const scopes = new WeakMap<Principal, CredentialScope>();

export function attachScope(principal: Principal, scope: CredentialScope): void {
  scopes.set(principal, scope);
}

export function scopeOf(principal: Principal): CredentialScope | undefined {
  return scopes.get(principal);
}
