import type { Logger } from 'pino';
import type { AlertRuleConfig, AlertsConfig } from '../record/config.js';
import type { DecisionRecord } from '../record/decision-record.js';
import type { HealthSnapshot } from '../route/health.js';

export interface AlertNotice {
  readonly status: 'firing' | 'resolved';
  readonly rule: string;
  readonly kind: AlertRuleConfig['kind'];
  readonly backend: string;
  readonly tier: string | null;
  /** Error fraction, latency in ms at the rule's percentile, or 1 for an open breaker. */
  readonly value: number;
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly requests: number;
  readonly at: string;
}

interface Sample {
  readonly t: number;
  readonly backend: string;
  readonly tier: string | null;
  readonly failed: boolean;
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface AlertDeps {
  readonly deploymentId: string;
  /** Breakers; HealthRegistry.snapshot fits. */
  readonly health?: () => readonly HealthSnapshot[];
  readonly tierOf?: (backendId: string) => string | undefined;
  /** The resolved Authorization header for the webhook. */
  readonly authorization?: string;
  /** Receives each state change (GatewayMetrics.setAlert fits). */
  readonly onChange?: (rule: string, backend: string, firing: boolean) => void;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Samples kept for the windows; the oldest go first. */
  readonly maxSamples?: number;
}

/**
 * Evaluates alert rules per backend, every `intervalSeconds`, over a sliding window
 * of the records it has observed (and the breakers' current state), and posts each
 * firing/resolved transition to the webhook. It only posts on changes, so a
 * long outage is one alert, not one per interval.
 */
export class AlertEvaluator {
  readonly #config: AlertsConfig;
  readonly #deps: AlertDeps;
  readonly #samples: Sample[] = [];
  readonly #firing = new Map<string, AlertNotice>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<AlertNotice[]> | undefined;

  constructor(config: AlertsConfig, deps: AlertDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  observe(r: DecisionRecord): void {
    const last = [...r.attempts].reverse().find((a) => a.attemptNo > 0);
    const backend = r.served.backend ?? last?.backend;
    if (backend === undefined) return; // refused before any backend: not a backend's health
    this.#samples.push({
      t: r.timeMs,
      backend,
      tier: r.served.tier ?? last?.tier ?? null,
      failed: r.status === 'failed',
      ok: r.status === 'ok',
      latencyMs: r.latency.totalMs,
    });
    const max = this.#deps.maxSamples ?? 100_000;
    if (this.#samples.length > max) this.#samples.splice(0, this.#samples.length - max);
  }

  /** Rules currently firing, keyed `rule/backend`. */
  firing(): ReadonlyMap<string, AlertNotice> {
    return this.#firing;
  }

  start(): void {
    if (this.#timer !== undefined || !this.#config.enabled) return;
    this.#timer = setInterval(() => void this.evaluate().catch(() => undefined), this.#config.intervalSeconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One evaluation; returns (and posts) the transitions. Overlapping calls share one run. */
  evaluate(): Promise<AlertNotice[]> {
    this.#running ??= this.#evaluate().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #evaluate(): Promise<AlertNotice[]> {
    const now = (this.#deps.now ?? Date.now)();
    const longest = Math.max(0, ...this.#config.rules.map((r) => r.windowSeconds)) * 1000;
    let drop = 0;
    while (drop < this.#samples.length && (this.#samples[drop]?.t ?? now) < now - longest) drop++;
    if (drop > 0) this.#samples.splice(0, drop);

    const breakers = this.#deps.health?.() ?? [];
    // Firing alerts' backends too: a backend that went quiet must still get its "resolved".
    const backends = new Set<string>([...this.#samples.map((s) => s.backend), ...breakers.map((b) => b.backendId), ...[...this.#firing.values()].map((a) => a.backend)]);
    const changes: AlertNotice[] = [];
    for (const rule of this.#config.rules) {
      for (const backend of backends) {
        if (rule.backend !== undefined && rule.backend !== backend) continue;
        const tier = this.#deps.tierOf?.(backend) ?? this.#samples.find((s) => s.backend === backend)?.tier ?? null;
        if (rule.tier !== undefined && rule.tier !== tier) continue;
        const { active, value, requests } = this.#check(rule, backend, now, breakers);
        const key = `${rule.id}/${backend}`;
        const was = this.#firing.get(key);
        if (active === (was !== undefined)) continue;
        const notice: AlertNotice = {
          status: active ? 'firing' : 'resolved',
          rule: rule.id,
          kind: rule.kind,
          backend,
          tier,
          value,
          threshold: rule.threshold,
          windowSeconds: rule.windowSeconds,
          requests,
          at: new Date(now).toISOString(),
        };
        if (active) this.#firing.set(key, notice);
        else this.#firing.delete(key);
        this.#deps.onChange?.(rule.id, backend, active);
        changes.push(notice);
      }
    }
    if (changes.length > 0) await this.#post(changes);
    return changes;
  }

  #check(rule: AlertRuleConfig, backend: string, now: number, breakers: readonly HealthSnapshot[]): { active: boolean; value: number; requests: number } {
    if (rule.kind === 'breaker_open') {
      const open = breakers.some((b) => b.backendId === backend && b.breaker === 'open');
      return { active: open, value: open ? 1 : 0, requests: 0 };
    }
    const since = now - rule.windowSeconds * 1000;
    const window = this.#samples.filter((s) => s.backend === backend && s.t >= since);
    if (rule.kind === 'error_rate') {
      const judged = window.filter((s) => s.ok || s.failed);
      const rate = judged.length === 0 ? 0 : judged.filter((s) => s.failed).length / judged.length;
      return { active: judged.length >= rule.minRequests && rate > rule.threshold, value: rate, requests: judged.length };
    }
    const latencies = window.filter((s) => s.ok).map((s) => s.latencyMs).sort((a, b) => a - b);
    const p = latencies.length === 0 ? 0 : (latencies[Math.min(latencies.length - 1, Math.ceil((rule.percentile / 100) * latencies.length) - 1)] ?? 0);
    return { active: latencies.length >= rule.minRequests && p > rule.threshold, value: p, requests: latencies.length };
  }

  async #post(alerts: AlertNotice[]): Promise<void> {
    const hook = this.#config.webhook;
    if (hook === undefined) return;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#deps.authorization !== undefined) headers.authorization = this.#deps.authorization;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ source: 'perimeter', deploymentId: this.#deps.deploymentId, alerts }),
        signal: AbortSignal.timeout(hook.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) this.#deps.logger?.warn({ status: res.status, alerts: alerts.length }, 'alert webhook refused the alerts');
    } catch (err) {
      this.#deps.logger?.warn({ err: err instanceof Error ? err.name : 'error', alerts: alerts.length }, 'alert webhook unreachable');
    }
  }
}
