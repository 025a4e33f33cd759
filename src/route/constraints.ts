import type { Capability, Tier } from '../domain/tier.js';

/** What the policy decision allows, as the router sees it. */
export interface RouteConstraints {
  /** Tiers the data may go to, most preferred first. Empty: none (fail closed). */
  readonly eligibleTiers: readonly Tier[];
  /** Regions the data may go to; undefined: any. Empty: none. Exact string match. */
  readonly regions: readonly string[] | undefined;
  /** Strategy the decision asks for; undefined: the routing config's default. */
  readonly prefer: 'latency' | 'cost' | undefined;
  /** The workload's capability, used by `perimeter/auto`. */
  readonly capability: Capability;
}

/** The one eligibility test, shared by planning and the runner's last check. */
export function permits(constraints: RouteConstraints, target: { readonly tier: Tier; readonly region: string }): boolean {
  return constraints.eligibleTiers.includes(target.tier) && (constraints.regions === undefined || constraints.regions.includes(target.region));
}
