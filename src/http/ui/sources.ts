import type { Tier } from '../../domain/tier.js';
import type { PolicyEngine } from '../../policy/engine.js';
import type { CostModel } from '../../record/cost.js';
import type { RecordStore } from '../../record/store.js';
import type { CapacitySnapshot } from '../../route/capacity.js';
import type { HealthSnapshot } from '../../route/health.js';

/**
 * What the dashboard's admin endpoints read, from one generation of services. Kept
 * apart from HttpServices' other members so the UI depends on read-only views only.
 */
export interface DashboardSources {
  /** Undefined when records are disabled: the pages then say so instead of showing zeros. */
  readonly records: RecordStore | undefined;
  readonly cost: CostModel;
  readonly policy: PolicyEngine;
  /** Configured level names, lowest first; the last is the one that must never reach public-api. */
  readonly levels: readonly string[];
  /** routing.onPremThreshold: on-prem is preferred below this utilisation, overflow above. */
  readonly onPremThreshold: number;
  readonly backends: readonly DashboardBackend[];
  health(): readonly HealthSnapshot[];
  capacity(): readonly CapacitySnapshot[];
}

export interface DashboardBackend {
  readonly id: string;
  readonly tier: Tier;
  readonly region: string;
}
