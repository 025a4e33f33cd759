import type { Tier } from '../domain/tier.js';
import type { CostConfig, OnPremRateConfig } from './config.js';
import type { CostBasis, RecordPricer } from './decision-record.js';

/** 365.25 / 12 days: an average month, so amortisation sums to the purchase price over a year of months. */
export const MONTH_MS = (365.25 / 12) * 24 * 3600 * 1000;

export interface ModelPrice {
  readonly inputPer1M: number;
  readonly outputPer1M: number;
}

/** A catalog entry's pricing fields; ModelCatalog.entries fits. */
export interface PricedEntry {
  readonly backendId: string;
  readonly id: string;
  readonly upstream?: string;
  readonly price: ModelPrice;
}

/**
 * Prices requests. Cloud: the configured list price per token. On-prem: a blended
 * rate, (hardware / amortisation months + operating cost per month) spread over
 * the tokens the hardware actually processes in a month at a given utilisation.
 * A record is priced at the configured expected utilisation (the real one is only
 * known afterwards); reports re-price on-prem from the measured utilisation.
 */
export class CostModel implements RecordPricer {
  readonly #config: CostConfig;
  readonly #prices: ReadonlyMap<string, ModelPrice>;

  constructor(config: CostConfig, entries: Iterable<PricedEntry>) {
    this.#config = config;
    const prices = new Map<string, ModelPrice>();
    for (const e of entries) prices.set(key(e.backendId, e.id), e.price);
    this.#prices = prices;
  }

  get reference(): CostConfig['reference'] {
    return this.#config.reference;
  }

  onPremRate(backend: string): OnPremRateConfig | undefined {
    return this.#config.onPrem[backend];
  }

  price(backend: string, model: string, tier: Tier, inputTokens: number, outputTokens: number): { amount: number; basis: CostBasis } {
    if (tier === 'on-prem') {
      const rate = this.#config.onPrem[backend];
      if (rate === undefined) return { amount: 0, basis: 'blended' };
      const perToken = blendedPerToken(rate, rate.expectedUtilisation);
      return { amount: perToken * weighted(rate, inputTokens, outputTokens), basis: 'blended' };
    }
    const p = this.#prices.get(key(backend, model));
    if (p === undefined) return { amount: 0, basis: 'price' };
    return { amount: (inputTokens * p.inputPer1M + outputTokens * p.outputPer1M) / 1e6, basis: 'price' };
  }

  /** What the tokens would have cost at the reference (public-api) price. */
  referenceCost(inputTokens: number, outputTokens: number): number {
    const r = this.#config.reference;
    return (inputTokens * r.inputPer1M + outputTokens * r.outputPer1M) / 1e6;
  }

  /**
   * An on-prem backend's actual cost over a period: the fixed monthly cost for the
   * period's length, whatever the traffic (idle hardware still costs), and the
   * utilisation and per-1M-token rate that traffic implies.
   */
  onPremPeriod(backend: string, periodMs: number, inputTokens: number, outputTokens: number): OnPremPeriodCost | undefined {
    const rate = this.#config.onPrem[backend];
    if (rate === undefined) return undefined;
    const cost = monthlyCost(rate) * (periodMs / MONTH_MS);
    const tokens = weighted(rate, inputTokens, outputTokens);
    const capacity = rate.busyTokensPerSecond * (periodMs / 1000);
    return {
      cost,
      utilisation: capacity === 0 ? 0 : Math.min(1, tokens / capacity),
      per1MTokens: tokens === 0 ? null : (cost / tokens) * 1e6,
    };
  }
}

export interface OnPremPeriodCost {
  readonly cost: number;
  /** Processed (weighted) tokens over what the hardware could do busy all period. */
  readonly utilisation: number;
  /** Actual cost per 1M weighted tokens; null when nothing was processed. */
  readonly per1MTokens: number | null;
}

export function monthlyCost(rate: OnPremRateConfig): number {
  return rate.hardwareCost / rate.amortisationMonths + rate.operatingCostPerMonth;
}

/** Cost of one weighted token at a utilisation (0..1]. */
export function blendedPerToken(rate: OnPremRateConfig, utilisation: number): number {
  const tokensPerMonth = rate.busyTokensPerSecond * (MONTH_MS / 1000) * Math.max(utilisation, 1e-9);
  return monthlyCost(rate) / tokensPerMonth;
}

function weighted(rate: OnPremRateConfig, input: number, output: number): number {
  return input + output * rate.outputTokenWeight;
}

function key(backend: string, model: string): string {
  return `${backend}\u0000${model}`;
}
