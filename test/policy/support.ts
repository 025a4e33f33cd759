import { ANONYMOUS, type Principal } from '../../src/domain/principal.js';
import type { Capability } from '../../src/domain/tier.js';
import { createPolicyEngine, policySchema, type PolicyConfigInput, type PolicyEngine, type PolicyInput } from '../../src/policy/index.js';

export const LEVELS = ['public', 'internal', 'confidential', 'regulated'] as const;

export function engineFor(policy: PolicyConfigInput, levels: readonly string[] = LEVELS): PolicyEngine {
  return createPolicyEngine(policySchema.parse(policy), levels);
}

export function principal(over: Partial<Principal> = {}): Principal {
  return { ...ANONYMOUS, id: 'key-1', kind: 'api_key', ...over };
}

export function input(over: Partial<PolicyInput> & { capability?: Capability | undefined } = {}): PolicyInput {
  return {
    level: 'public',
    entities: {},
    principal: principal(),
    workload: undefined,
    model: 'some-model',
    capability: 'basic',
    ...over,
  };
}
