import { Counter, Gauge, Registry } from 'prom-client';
import type { DecisionRecord } from '../record/decision-record.js';
import type { DropReason, QueueObserver } from '../record/queue.js';
import type { CapacitySnapshot } from '../route/capacity.js';
import type { BreakerState, HealthSnapshot } from '../route/health.js';
import { KeyedCounter, KeyedHistogram } from './keyed-metrics.js';

/**
 * Prometheus metrics in a registry of their own: nothing is registered globally,
 * nothing is collected until createMetrics() is called, and two gateways in one
 * process (tests) do not collide.
 *
 * Names follow the OTel GenAI semantic conventions where one exists (dots become
 * underscores in Prometheus); the rest are perimeter_*. Label values come only
 * from closed sets (tier, status, token type, breaker state) or config ids
 * (backend, served model, level, entity type, rule id): never request text.
 */
export interface MetricsSources {
  /** Breakers of every backend; HealthRegistry.snapshot fits. */
  readonly health?: () => readonly HealthSnapshot[];
  /** In-flight per backend; CapacityRegistry.snapshot fits. */
  readonly capacity?: () => readonly CapacitySnapshot[];
  /** Tier of a backend id, so utilisation is reported for on-prem only. */
  readonly tierOf?: (backendId: string) => string | undefined;
  /** Backend ids to always report (so a never-used backend still shows its breaker). */
  readonly backends?: readonly string[];
  /** The classifier's segment cache; Classifier.cacheStats fits. */
  readonly classifierCache?: () => { readonly entries: number; readonly chars: number; readonly hits: number; readonly misses: number };
}

// OTel GenAI buckets: seconds for durations, powers of 4 for token counts.
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
export const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1];
export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];

const NONE = 'none';

export class GatewayMetrics implements QueueObserver {
  readonly registry: Registry;
  // Per-request series: our own maps, rendered through the registry (keyed-metrics.ts says why).
  readonly #requests: KeyedCounter;
  readonly #duration: KeyedHistogram;
  readonly #ttft: KeyedHistogram;
  readonly #overhead: KeyedHistogram;
  readonly #tokenUsage: KeyedHistogram;
  readonly #tokens: KeyedCounter;
  readonly #cost: KeyedCounter;
  readonly #findings: KeyedCounter;
  readonly #rejections: KeyedCounter;
  readonly #ruleMatches: KeyedCounter;
  readonly #fallbacks: KeyedCounter;
  readonly #injection: KeyedCounter;
  readonly #dropped: Counter<'destination' | 'reason'>;
  readonly #spilled: Counter<'destination'>;
  readonly #written: Counter<'destination'>;
  readonly #writeErrors: Counter<'destination'>;
  readonly #alerts: Gauge<'rule' | 'backend'>;

  constructor(sources: MetricsSources = {}) {
    const registry = new Registry();
    this.registry = registry;
    const r = [registry];
    // Registered in this order, which is the order of /metrics.
    this.#requests = new KeyedCounter(registry, 'perimeter_requests_total', 'Requests by served tier, backend, status and data level.', ['tier', 'backend', 'status', 'level']);
    this.#duration = new KeyedHistogram(
      registry,
      'gen_ai_client_operation_duration_seconds',
      'GenAI operation duration: arrival to last byte, as the gateway saw it.',
      ['gen_ai_operation_name', 'gen_ai_response_model', 'perimeter_tier', 'perimeter_backend', 'error_type'],
      DURATION_BUCKETS,
    );
    this.#ttft = new KeyedHistogram(
      registry,
      'gen_ai_server_time_to_first_token_seconds',
      'Time to first token of streamed responses, measured at the gateway.',
      ['gen_ai_operation_name', 'gen_ai_response_model', 'perimeter_tier', 'perimeter_backend'],
      TTFT_BUCKETS,
    );
    this.#overhead = new KeyedHistogram(registry, 'perimeter_gateway_overhead_seconds', "The gateway's own time per request: total minus time waiting on upstreams.", ['perimeter_tier'], OVERHEAD_BUCKETS);
    // Token type last: that is where the exposition has always put it.
    this.#tokenUsage = new KeyedHistogram(
      registry,
      'gen_ai_client_token_usage',
      'Tokens per request by type (input, output).',
      ['gen_ai_operation_name', 'gen_ai_response_model', 'perimeter_tier', 'perimeter_backend', 'gen_ai_token_type'],
      TOKEN_BUCKETS,
    );
    this.#tokens = new KeyedCounter(registry, 'perimeter_tokens_total', 'Tokens by tier, backend and type; estimated="true" when counted locally.', ['tier', 'backend', 'type', 'estimated']);
    this.#cost = new KeyedCounter(registry, 'perimeter_cost_usd_total', 'Cost in USD: list price for cloud, blended rate for on-prem.', ['tier', 'backend']);
    this.#findings = new KeyedCounter(registry, 'perimeter_findings_total', 'Classifier findings by entity type and resulting level.', ['entity', 'level']);
    this.#rejections = new KeyedCounter(registry, 'perimeter_policy_rejections_total', 'Requests refused by policy, by error code and level.', ['code', 'level']);
    this.#ruleMatches = new KeyedCounter(registry, 'perimeter_policy_rule_matches_total', 'Policy rule matches by rule id.', ['rule']);
    this.#fallbacks = new KeyedCounter(registry, 'perimeter_fallbacks_total', 'Backends tried after the first, by the tier finally served.', ['tier']);
    this.#injection = new KeyedCounter(registry, 'perimeter_injection_verdicts_total', 'Requests the prompt-injection guard did not find clean, by verdict and the action taken.', ['verdict', 'action']);
    this.#dropped = new Counter({ name: 'perimeter_records_dropped_total', help: 'Records lost, by destination and reason (queue_full, write_failed, closed, spill_failed).', labelNames: ['destination', 'reason'], registers: r });
    this.#spilled = new Counter({ name: 'perimeter_records_spilled_total', help: 'Records written to the spill file because a queue was full or a write kept failing.', labelNames: ['destination'], registers: r });
    this.#written = new Counter({ name: 'perimeter_records_written_total', help: 'Records written, by destination.', labelNames: ['destination'], registers: r });
    this.#writeErrors = new Counter({ name: 'perimeter_records_write_errors_total', help: 'Failed batch writes (each is retried), by destination.', labelNames: ['destination'], registers: r });
    this.#alerts = new Gauge({ name: 'perimeter_alert_firing', help: '1 while an alert rule fires.', labelNames: ['rule', 'backend'], registers: r });

    registerSnapshotGauges(registry, sources);
  }

  /** Everything a record says, in one call per request. */
  observe(rec: DecisionRecord): void {
    const tier = rec.served.tier ?? NONE;
    const backend = rec.served.backend ?? NONE;
    const level = rec.classification.level ?? NONE;
    const model = rec.served.model ?? NONE;
    const op = rec.operation === 'chat' ? 'chat' : 'embeddings';
    this.#requests.inc(1, tier, backend, rec.status, level);
    this.#duration.observe(rec.latency.totalMs / 1000, op, model, tier, backend, rec.errorCode ?? '');
    if (rec.latency.ttftMs !== null) this.#ttft.observe(rec.latency.ttftMs / 1000, op, model, tier, backend);
    if (rec.latency.overheadMs !== null) this.#overhead.observe(rec.latency.overheadMs / 1000, tier);
    if (rec.status === 'ok') {
      this.#tokenUsage.observe(rec.tokens.input, op, model, tier, backend, 'input');
      if (rec.operation === 'chat') this.#tokenUsage.observe(rec.tokens.output, op, model, tier, backend, 'output');
    }
    const estimated = rec.tokens.estimated ? 'true' : 'false';
    if (rec.tokens.input > 0) this.#tokens.inc(rec.tokens.input, tier, backend, 'input', estimated);
    if (rec.tokens.output > 0) this.#tokens.inc(rec.tokens.output, tier, backend, 'output', estimated);
    if (rec.cost.amount > 0) this.#cost.inc(rec.cost.amount, tier, backend);
    const findings = rec.classification.findings;
    for (const entity in findings) if (Object.hasOwn(findings, entity)) this.#findings.inc(findings[entity] as number, entity, level);
    if (rec.status === 'rejected' && rec.errorCode !== null) this.#rejections.inc(1, rec.errorCode, level);
    for (const rule of rec.policy.matchedRules) this.#ruleMatches.inc(1, rule);
    if (rec.fallbacks > 0) this.#fallbacks.inc(rec.fallbacks, tier);
    if (rec.injection !== undefined) this.#injection.inc(1, rec.injection.verdict, rec.injection.action);
  }

  setAlert(rule: string, backend: string, firing: boolean): void {
    this.#alerts.set({ rule, backend }, firing ? 1 : 0);
  }

  // QueueObserver: the record queues report every write and every loss here.
  written(destination: string, n: number): void {
    this.#written.inc({ destination }, n);
  }
  dropped(destination: string, reason: DropReason, n: number): void {
    this.#dropped.inc({ destination, reason }, n);
  }
  spilled(destination: string, n: number): void {
    this.#spilled.inc({ destination }, n);
  }
  writeFailed(destination: string): void {
    this.#writeErrors.inc({ destination });
  }

  /** The /metrics response. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export function createMetrics(sources: MetricsSources = {}): GatewayMetrics {
  return new GatewayMetrics(sources);
}

/** The gauges read from live state at scrape time (breakers, capacity); shared with the test's reference metrics. */
export function registerSnapshotGauges(registry: Registry, sources: MetricsSources): void {
  const { health, capacity, tierOf, backends, classifierCache } = sources;
  new Gauge({
    name: 'perimeter_breaker_state',
    help: 'Circuit breaker state per backend: 1 for the current state.',
    labelNames: ['backend', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const seen = new Set<string>();
      for (const h of health?.() ?? []) {
        seen.add(h.backendId);
        for (const s of BREAKER_STATES) this.set({ backend: h.backendId, state: s }, h.breaker === s ? 1 : 0);
      }
      for (const b of backends ?? []) if (!seen.has(b)) for (const s of BREAKER_STATES) this.set({ backend: b, state: s }, s === 'closed' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'perimeter_onprem_utilisation_ratio',
    help: 'In-flight requests over maxConcurrency, per on-prem backend.',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of capacity?.() ?? []) if (c.limit !== undefined && (tierOf === undefined || tierOf(c.backendId) === 'on-prem')) this.set({ backend: c.backendId }, c.utilisation);
    },
  });
  new Gauge({
    name: 'perimeter_backend_in_flight',
    help: 'In-flight requests per backend.',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of capacity?.() ?? []) this.set({ backend: c.backendId }, c.inFlight);
    },
  });
  new Gauge({
    name: 'perimeter_backend_queued',
    help: 'Requests waiting for a slot per backend.',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of capacity?.() ?? []) this.set({ backend: c.backendId }, c.queued);
    },
  });
  if (classifierCache === undefined) return;
  new Counter({
    name: 'perimeter_classifier_cache_lookups_total',
    help: "Segments looked up in the classifier's cache, by result (hit: not scanned again). Restarts at zero on reload.",
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = classifierCache();
      this.reset();
      this.inc({ result: 'hit' }, s.hits);
      this.inc({ result: 'miss' }, s.misses);
    },
  });
  new Gauge({
    name: 'perimeter_classifier_cache_chars',
    help: "Characters of segment text held by the classifier's cache (bounded by classification.cache.maxChars).",
    registers: [registry],
    collect() {
      this.set(classifierCache().chars);
    },
  });
}
