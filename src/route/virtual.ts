import { CAPABILITIES, type Capability } from '../domain/tier.js';

/**
 * Virtual model ids. `perimeter/auto` takes the capability the policy decision
 * derived from the workload; the others name it. A virtual model resolves to every
 * chat model of at least that capability, cheapest first, so a request is never
 * silently downgraded below what it asked for.
 */
export const VIRTUAL_MODELS = ['perimeter/auto', 'perimeter/basic', 'perimeter/mid', 'perimeter/frontier'] as const;
export type VirtualModel = (typeof VIRTUAL_MODELS)[number];

const PREFIX = 'perimeter/';

export function isVirtualModel(id: string): id is VirtualModel {
  return id.startsWith(PREFIX) && (VIRTUAL_MODELS as readonly string[]).includes(id);
}

/** The capability a virtual id asks for; `auto` defers to the decision's. */
export function virtualCapability(id: VirtualModel, auto: Capability): Capability {
  return id === 'perimeter/auto' ? auto : (id.slice(PREFIX.length) as Capability);
}

/** basic=0, mid=1, frontier=2: "at least" comparisons. */
export function capabilityRank(c: Capability): number {
  return CAPABILITIES.indexOf(c);
}
