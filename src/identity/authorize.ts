import { GatewayError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { TIERS, type Tier } from '../domain/tier.js';
import type { RoleConfig } from './config.js';
import { scopeOf } from './scope.js';

/** A request without a workload is checked as this one, so a workload-bound role cannot skip its binding by omitting it. */
export const DEFAULT_WORKLOAD = 'default';

export interface AccessRequest {
  /** The model id the client sent (virtual ones included). */
  readonly model: string;
  /** Checked when known (after routing); before routing use allowedTiers to narrow the eligible set. */
  readonly tier?: Tier | undefined;
  /** The effective workload: the credential's own, else the header's. */
  readonly workload?: string | undefined;
}

export type AdminAccess = 'read' | 'write';

function allows(list: readonly string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

/**
 * Role-based access. A request is allowed when ONE role permits the whole
 * combination (model, tier, workload) — taking models from one role and tiers from
 * another would grant combinations nobody configured — and the credential's own
 * scope (a key's models and tiers) permits it too. Unknown role names grant nothing.
 */
export class Authorizer {
  readonly #roles: ReadonlyMap<string, RoleConfig>;

  constructor(roles: Readonly<Record<string, RoleConfig>>) {
    this.#roles = new Map(Object.entries(roles));
  }

  #rolesOf(principal: Principal): RoleConfig[] {
    return principal.roles.map((r) => this.#roles.get(r)).filter((r): r is RoleConfig => r !== undefined);
  }

  /** Throws forbidden (403) unless the principal may make this request. Messages are stable and name no credential. */
  authorize(principal: Principal, request: AccessRequest): void {
    const scope = scopeOf(principal);
    if (scope !== undefined && !allows(scope.models, request.model)) {
      throw new GatewayError('forbidden', `This API key may not use model "${request.model}".`, { param: 'model' });
    }
    if (scope !== undefined && request.tier !== undefined && !allows(scope.tiers, request.tier)) {
      throw new GatewayError('forbidden', `This API key may not use the ${request.tier} tier.`);
    }
    const workload = request.workload ?? DEFAULT_WORKLOAD;
    const roles = this.#rolesOf(principal);
    const forModel = roles.filter((r) => allows(r.models, request.model));
    if (forModel.length === 0) {
      throw new GatewayError('forbidden', `Your roles do not permit model "${request.model}".`, { param: 'model' });
    }
    const forWorkload = forModel.filter((r) => allows(r.workloads, workload));
    if (forWorkload.length === 0) {
      throw new GatewayError('forbidden', `Your roles do not permit model "${request.model}" for workload "${workload}".`);
    }
    const tier = request.tier;
    if (tier !== undefined && !forWorkload.some((r) => allows(r.tiers, tier))) {
      throw new GatewayError('forbidden', `Your roles do not permit model "${request.model}" on the ${tier} tier.`);
    }
  }

  /**
   * The tiers this principal may use for (model, workload), in TIERS order. The
   * lead intersects the policy's eligible tiers with this before routing; an empty
   * intersection is a 403, not a routing failure.
   */
  allowedTiers(principal: Principal, request: Omit<AccessRequest, 'tier'>): Tier[] {
    const scope = scopeOf(principal);
    if (scope !== undefined && !allows(scope.models, request.model)) return [];
    const workload = request.workload ?? DEFAULT_WORKLOAD;
    const roles = this.#rolesOf(principal).filter((r) => allows(r.models, request.model) && allows(r.workloads, workload));
    return TIERS.filter((t) => roles.some((r) => allows(r.tiers, t)) && (scope === undefined || allows(scope.tiers, t)));
  }

  /** For /v1/models: the entries whose model the principal may use on the entry's tier. */
  visibleModels<T extends { readonly id: string; readonly tier: Tier }>(principal: Principal, entries: readonly T[], workload?: string): T[] {
    return entries.filter((e) => this.allowedTiers(principal, { model: e.id, workload }).includes(e.tier));
  }

  /** Knowledge Bases (issue 9). */
  authorizeBase(principal: Principal, base: string): void {
    if (!this.#rolesOf(principal).some((r) => allows(r.bases, base))) {
      throw new GatewayError('forbidden', `Your roles do not permit Base "${base}".`);
    }
  }

  /** Whether some role lets the principal query this Base (the Base's own access list is checked by Bases). */
  mayReadBase(principal: Principal, base: string): boolean {
    return this.#rolesOf(principal).some((r) => allows(r.bases, base));
  }

  /** Ingest into, and request moves out of, this Base. */
  mayWriteBase(principal: Principal, base: string): boolean {
    return this.#rolesOf(principal).some((r) => allows(r.basesWrite, base));
  }

  /** Approve or reject document moves between deployments. */
  mayApproveMoves(principal: Principal): boolean {
    return this.#rolesOf(principal).some((r) => r.mayApproveMoves);
  }

  /** /admin/*: read for viewers and admins, write for admins only. */
  authorizeAdmin(principal: Principal, access: AdminAccess): void {
    const ok = this.#rolesOf(principal).some((r) => r.admin === 'write' || (access === 'read' && r.admin === 'read'));
    if (!ok) throw new GatewayError('forbidden', access === 'write' ? 'The admin role is required.' : 'The admin or viewer role is required.');
  }

  /** Whether a caller label may LOWER the classifier's level for this principal. */
  mayLowerSensitivity(principal: Principal): boolean {
    return this.#rolesOf(principal).some((r) => r.mayLowerSensitivity);
  }

  /**
   * The `mayLower` option for classifier.applyCallerLabel. The classifier asks only
   * when a label would actually lower the level, so each `true` answer is one use;
   * `onUse` is where the lead records it (the issue wants every use recorded).
   */
  sensitivityHook(principal: Principal, onUse: () => void): () => boolean {
    return () => {
      const ok = this.mayLowerSensitivity(principal);
      if (ok) onUse();
      return ok;
    };
  }
}
