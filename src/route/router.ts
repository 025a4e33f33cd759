import { CapacityRegistry } from './capacity.js';
import type { ModelCatalog, ModelKind } from './catalog.js';
import type { RoutingConfig, SplitConfig } from './config.js';
import type { RouteConstraints } from './constraints.js';
import { HealthRegistry } from './health.js';
import { planRoute, type RoutePlan } from './plan.js';
import { runWithFallback, type Attempt, type RunResult } from './runner.js';
import { systemClock, systemSleep, systemTimers, type Clock, type Rng, type Sleep, type Timers } from './time.js';

export interface RouterDeps {
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly sleep?: Sleep;
  readonly timers?: Timers;
}

/**
 * The routing state of one gateway (health, capacity, split table) and the two
 * calls the request path needs: plan (also what explain shows) and run.
 */
export class Router {
  readonly catalog: ModelCatalog;
  readonly routing: RoutingConfig;
  readonly health: HealthRegistry;
  readonly capacity: CapacityRegistry;
  readonly #splits: ReadonlyMap<string, SplitConfig>;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #sleep: Sleep;

  constructor(catalog: ModelCatalog, routing: RoutingConfig, deps: RouterDeps = {}) {
    this.catalog = catalog;
    this.routing = routing;
    this.#clock = deps.clock ?? systemClock;
    this.#rng = deps.rng ?? Math.random;
    this.#sleep = deps.sleep ?? systemSleep;
    this.health = new HealthRegistry(routing, this.#clock);
    this.capacity = new CapacityRegistry(catalog.entries, routing.queue, deps.timers ?? systemTimers);
    this.#splits = new Map(routing.splits.map((s) => [s.model, s]));
  }

  plan(model: string, kind: ModelKind, constraints: RouteConstraints): RoutePlan {
    return planRoute(model, kind, constraints, {
      catalog: this.catalog,
      routing: this.routing,
      splits: this.#splits,
      health: this.health,
      capacity: this.capacity,
      rng: this.#rng,
    });
  }

  /** Pass the same constraints the plan was made with: the runner re-checks against them. */
  run<T>(plan: RoutePlan, constraints: RouteConstraints, attempt: Attempt<T>, signal: AbortSignal): Promise<RunResult<T>> {
    return runWithFallback(plan, constraints, attempt, {
      signal,
      health: this.health,
      capacity: this.capacity,
      retry: this.routing.retry,
      queueWaitMs: this.routing.queue.maxWaitMs,
      retryAfterSeconds: this.routing.queue.retryAfterSeconds,
      clock: this.#clock,
      rng: this.#rng,
      sleep: this.#sleep,
    });
  }
}
