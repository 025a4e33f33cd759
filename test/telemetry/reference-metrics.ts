import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, OVERHEAD_BUCKETS, registerSnapshotGauges, TOKEN_BUCKETS, TTFT_BUCKETS, type MetricsSources } from '../../src/telemetry/metrics.js';
import type { DecisionRecord } from '../../src/record/decision-record.js';
import type { DropReason, QueueObserver } from '../../src/record/queue.js';

/**
 * GatewayMetrics as it was before per-request series moved off prom-client's
 * per-call label hashing: plain prom-client Counters and Histograms, one inc/observe
 * per label set. Kept verbatim as the reference the fast version must render
 * byte-for-byte (metrics-equivalence.test.ts) and as the baseline of
 * bench/metrics-bench.ts. Do not "improve" it.
 */

const NONE = 'none';

export class ReferenceMetrics implements QueueObserver {
  readonly registry: Registry;
  readonly #requests: Counter<'tier' | 'backend' | 'status' | 'level'>;
  readonly #duration: Histogram<'gen_ai_operation_name' | 'gen_ai_response_model' | 'perimeter_tier' | 'perimeter_backend' | 'error_type'>;
  readonly #ttft: Histogram<'gen_ai_operation_name' | 'gen_ai_response_model' | 'perimeter_tier' | 'perimeter_backend'>;
  readonly #overhead: Histogram<'perimeter_tier'>;
  readonly #tokenUsage: Histogram<'gen_ai_operation_name' | 'gen_ai_response_model' | 'gen_ai_token_type' | 'perimeter_tier' | 'perimeter_backend'>;
  readonly #tokens: Counter<'tier' | 'backend' | 'type' | 'estimated'>;
  readonly #cost: Counter<'tier' | 'backend'>;
  readonly #findings: Counter<'entity' | 'level'>;
  readonly #rejections: Counter<'code' | 'level'>;
  readonly #ruleMatches: Counter<'rule'>;
  readonly #fallbacks: Counter<'tier'>;
  readonly #injection: Counter<'verdict' | 'action'>;
  readonly #dropped: Counter<'destination' | 'reason'>;
  readonly #spilled: Counter<'destination'>;
  readonly #written: Counter<'destination'>;
  readonly #writeErrors: Counter<'destination'>;
  readonly #alerts: Gauge<'rule' | 'backend'>;

  constructor(sources: MetricsSources = {}) {
    const registry = new Registry();
    this.registry = registry;
    const r = [registry];
    this.#requests = new Counter({ name: 'perimeter_requests_total', help: 'Requests by served tier, backend, status and data level.', labelNames: ['tier', 'backend', 'status', 'level'], registers: r });
    this.#duration = new Histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'GenAI operation duration: arrival to last byte, as the gateway saw it.',
      labelNames: ['gen_ai_operation_name', 'gen_ai_response_model', 'perimeter_tier', 'perimeter_backend', 'error_type'],
      buckets: DURATION_BUCKETS,
      registers: r,
    });
    this.#ttft = new Histogram({
      name: 'gen_ai_server_time_to_first_token_seconds',
      help: 'Time to first token of streamed responses, measured at the gateway.',
      labelNames: ['gen_ai_operation_name', 'gen_ai_response_model', 'perimeter_tier', 'perimeter_backend'],
      buckets: TTFT_BUCKETS,
      registers: r,
    });
    this.#overhead = new Histogram({
      name: 'perimeter_gateway_overhead_seconds',
      help: "The gateway's own time per request: total minus time waiting on upstreams.",
      labelNames: ['perimeter_tier'],
      buckets: OVERHEAD_BUCKETS,
      registers: r,
    });
    this.#tokenUsage = new Histogram({
      name: 'gen_ai_client_token_usage',
      help: 'Tokens per request by type (input, output).',
      labelNames: ['gen_ai_operation_name', 'gen_ai_response_model', 'gen_ai_token_type', 'perimeter_tier', 'perimeter_backend'],
      buckets: TOKEN_BUCKETS,
      registers: r,
    });
    this.#tokens = new Counter({ name: 'perimeter_tokens_total', help: 'Tokens by tier, backend and type; estimated="true" when counted locally.', labelNames: ['tier', 'backend', 'type', 'estimated'], registers: r });
    this.#cost = new Counter({ name: 'perimeter_cost_usd_total', help: 'Cost in USD: list price for cloud, blended rate for on-prem.', labelNames: ['tier', 'backend'], registers: r });
    this.#findings = new Counter({ name: 'perimeter_findings_total', help: 'Classifier findings by entity type and resulting level.', labelNames: ['entity', 'level'], registers: r });
    this.#rejections = new Counter({ name: 'perimeter_policy_rejections_total', help: 'Requests refused by policy, by error code and level.', labelNames: ['code', 'level'], registers: r });
    this.#ruleMatches = new Counter({ name: 'perimeter_policy_rule_matches_total', help: 'Policy rule matches by rule id.', labelNames: ['rule'], registers: r });
    this.#fallbacks = new Counter({ name: 'perimeter_fallbacks_total', help: 'Backends tried after the first, by the tier finally served.', labelNames: ['tier'], registers: r });
    this.#injection = new Counter({ name: 'perimeter_injection_verdicts_total', help: 'Requests the prompt-injection guard did not find clean, by verdict and the action taken.', labelNames: ['verdict', 'action'], registers: r });
    this.#dropped = new Counter({ name: 'perimeter_records_dropped_total', help: 'Records lost, by destination and reason (queue_full, write_failed, closed, spill_failed).', labelNames: ['destination', 'reason'], registers: r });
    this.#spilled = new Counter({ name: 'perimeter_records_spilled_total', help: 'Records written to the spill file because a queue was full or a write kept failing.', labelNames: ['destination'], registers: r });
    this.#written = new Counter({ name: 'perimeter_records_written_total', help: 'Records written, by destination.', labelNames: ['destination'], registers: r });
    this.#writeErrors = new Counter({ name: 'perimeter_records_write_errors_total', help: 'Failed batch writes (each is retried), by destination.', labelNames: ['destination'], registers: r });
    this.#alerts = new Gauge({ name: 'perimeter_alert_firing', help: '1 while an alert rule fires.', labelNames: ['rule', 'backend'], registers: r });

    // The scrape-time gauges did not change with the fast path; both register the same ones.
    registerSnapshotGauges(registry, sources);
  }

  /** Everything a record says, in one call per request. */
  observe(rec: DecisionRecord): void {
    const tier = rec.served.tier ?? NONE;
    const backend = rec.served.backend ?? NONE;
    const level = rec.classification.level ?? NONE;
    const model = rec.served.model ?? NONE;
    const op = rec.operation === 'chat' ? 'chat' : 'embeddings';
    this.#requests.inc({ tier, backend, status: rec.status, level });
    this.#duration.observe(
      { gen_ai_operation_name: op, gen_ai_response_model: model, perimeter_tier: tier, perimeter_backend: backend, error_type: rec.errorCode ?? '' },
      rec.latency.totalMs / 1000,
    );
    if (rec.latency.ttftMs !== null) {
      this.#ttft.observe({ gen_ai_operation_name: op, gen_ai_response_model: model, perimeter_tier: tier, perimeter_backend: backend }, rec.latency.ttftMs / 1000);
    }
    if (rec.latency.overheadMs !== null) this.#overhead.observe({ perimeter_tier: tier }, rec.latency.overheadMs / 1000);
    if (rec.status === 'ok') {
      const base = { gen_ai_operation_name: op, gen_ai_response_model: model, perimeter_tier: tier, perimeter_backend: backend };
      this.#tokenUsage.observe({ ...base, gen_ai_token_type: 'input' }, rec.tokens.input);
      if (rec.operation === 'chat') this.#tokenUsage.observe({ ...base, gen_ai_token_type: 'output' }, rec.tokens.output);
    }
    const estimated = rec.tokens.estimated ? 'true' : 'false';
    if (rec.tokens.input > 0) this.#tokens.inc({ tier, backend, type: 'input', estimated }, rec.tokens.input);
    if (rec.tokens.output > 0) this.#tokens.inc({ tier, backend, type: 'output', estimated }, rec.tokens.output);
    if (rec.cost.amount > 0) this.#cost.inc({ tier, backend }, rec.cost.amount);
    for (const [entity, n] of Object.entries(rec.classification.findings)) this.#findings.inc({ entity, level }, n);
    if (rec.status === 'rejected' && rec.errorCode !== null) this.#rejections.inc({ code: rec.errorCode, level });
    for (const rule of rec.policy.matchedRules) this.#ruleMatches.inc({ rule });
    if (rec.fallbacks > 0) this.#fallbacks.inc({ tier }, rec.fallbacks);
    if (rec.injection !== undefined) this.#injection.inc({ verdict: rec.injection.verdict, action: rec.injection.action });
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

