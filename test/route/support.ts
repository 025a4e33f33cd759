import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import type { Capability, Tier } from '../../src/domain/tier.js';
import { ModelCatalog } from '../../src/route/catalog.js';
import { routingSchema, type RoutingInput } from '../../src/route/config.js';
import type { RouteConstraints } from '../../src/route/constraints.js';
import { Router } from '../../src/route/router.js';
import { seededRng, type Rng, type Sleep, type Timers } from '../../src/route/time.js';

export interface ModelSpec {
  id: string;
  kind?: 'chat' | 'embedding';
  capability?: Capability;
  price?: number;
}

export interface BackendSpec {
  id: string;
  tier: Tier;
  region?: string;
  maxConcurrency?: number;
  models: ModelSpec[];
}

/** A catalog from short specs, through the real config schema. on-prem defaults to maxConcurrency 4. */
export function catalogOf(backends: BackendSpec[]): ModelCatalog {
  const input: ConfigInput = {
    backends: backends.map((b) => ({
      id: b.id,
      tier: b.tier,
      region: b.region ?? 'eu',
      protocol: 'openai' as const,
      baseUrl: 'http://127.0.0.1:1/v1',
      ...(b.tier === 'on-prem' ? { maxConcurrency: b.maxConcurrency ?? 4 } : {}),
      models: b.models.map((m) => ({
        id: m.id,
        kind: m.kind ?? 'chat',
        capability: m.capability ?? 'basic',
        price: { inputPer1M: m.price ?? 0, outputPer1M: 0 },
      })),
    })),
  };
  return new ModelCatalog(configSchema.parse(input));
}

/** The demo's shape: one backend per tier plus a second public one. */
export function demoCatalog(): ModelCatalog {
  return catalogOf([
    { id: 'onprem', tier: 'on-prem', region: 'eu-central', maxConcurrency: 4, models: [{ id: 'llama-8b' }, { id: 'llama-70b', capability: 'mid' }, { id: 'bge', kind: 'embedding' }] },
    { id: 'azure', tier: 'private-cloud', region: 'eu-west', models: [{ id: 'gpt-4o', capability: 'frontier', price: 12.5 }, { id: 'llama-70b', capability: 'mid', price: 2 }] },
    { id: 'openai', tier: 'public-api', region: 'us-east', models: [{ id: 'gpt-mini', capability: 'mid', price: 2 }, { id: 'gpt-4o', capability: 'frontier', price: 12 }] },
    { id: 'anthropic', tier: 'public-api', region: 'us-east', models: [{ id: 'claude', capability: 'frontier', price: 18 }, { id: 'llama-70b', capability: 'mid', price: 1 }] },
  ]);
}

export function constraints(over: Partial<RouteConstraints> = {}): RouteConstraints {
  return { eligibleTiers: ['on-prem', 'private-cloud', 'public-api'], regions: undefined, prefer: undefined, capability: 'basic', ...over };
}

/** A clock tests move by hand, with timers that fire when it passes their deadline. */
export class FakeTime implements Timers {
  now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  readonly clock = (): number => this.now;

  set(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id;
  }

  clear(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    this.now += ms;
    const due = [...this.#timers].filter(([, t]) => t.at <= this.now).sort((a, b) => a[1].at - b[1].at);
    for (const [id, t] of due) {
      this.#timers.delete(id);
      t.fn();
    }
  }

  /** A sleep that records the delay, moves the clock and resolves at once. */
  readonly sleeps: number[] = [];
  readonly sleep: Sleep = (ms, signal) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    this.sleeps.push(ms);
    this.now += ms;
    return Promise.resolve();
  };
}

export function routerOf(catalog: ModelCatalog, routing: RoutingInput = {}, time: FakeTime = new FakeTime(), rng: Rng = seededRng(1)): Router {
  return new Router(catalog, routingSchema.parse(routing), { clock: time.clock, rng, sleep: time.sleep, timers: time });
}

/** Lets queued promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
