import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { recordingProvider } from '../helpers/tracing.js';
import { alertsConfigSchema } from '../../src/record/config.js';
import { AlertEvaluator, type AlertNotice } from '../../src/telemetry/alerts.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { startRequestTrace } from '../../src/telemetry/tracing.js';
import { sampleRecord } from '../record/support.js';

describe('metrics', () => {
  it('renders GenAI-convention and perimeter metrics from records and snapshots', async () => {
    const m = createMetrics({
      health: () => [{ backendId: 'public-openai', breaker: 'open', latencyMs: 10, retryInMs: 1000 }],
      capacity: () => [
        { backendId: 'onprem-vllm', inFlight: 4, limit: 16, utilisation: 0.25, queued: 1 },
        { backendId: 'public-openai', inFlight: 2, limit: undefined, utilisation: 0, queued: 0 },
      ],
      tierOf: (b) => (b === 'onprem-vllm' ? 'on-prem' : 'public-api'),
      backends: ['onprem-vllm', 'public-openai'],
    });
    m.observe(sampleRecord(1, { tier: 'on-prem', level: 'regulated', rules: ['r1'] }));
    m.observe({ ...sampleRecord(2, { status: 'rejected', level: 'regulated' }) });
    m.observe({ ...sampleRecord(3, { tier: 'public-api' }), latency: { totalMs: 900, ttftMs: 120, overheadMs: 3 }, classification: { level: 'internal', findings: { EMAIL_ADDRESS: 2 } } });
    m.dropped('store', 'queue_full', 3);
    const { body, contentType } = await m.render();
    assert.match(contentType, /text\/plain/);
    for (const name of [
      'perimeter_requests_total{tier="on-prem",backend="onprem-vllm",status="ok",level="regulated"} 1',
      'perimeter_requests_total{tier="none",backend="none",status="rejected",level="regulated"} 1',
      'gen_ai_client_operation_duration_seconds_bucket',
      'gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat",gen_ai_response_model="gpt-4.1-mini",perimeter_tier="public-api",perimeter_backend="public-openai"} 1',
      'gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_response_model="llama-3.1-8b-instruct",perimeter_tier="on-prem",perimeter_backend="onprem-vllm",gen_ai_token_type="input"} 100',
      'perimeter_gateway_overhead_seconds_bucket',
      'perimeter_tokens_total{tier="on-prem",backend="onprem-vllm",type="output",estimated="false"} 50',
      'perimeter_cost_usd_total{tier="public-api",backend="public-openai"}',
      'perimeter_findings_total{entity="EMAIL_ADDRESS",level="internal"} 2',
      'perimeter_policy_rejections_total{code="request_denied",level="regulated"} 1',
      'perimeter_policy_rule_matches_total{rule="r1"} 1',
      'perimeter_breaker_state{backend="public-openai",state="open"} 1',
      'perimeter_breaker_state{backend="onprem-vllm",state="closed"} 1',
      'perimeter_onprem_utilisation_ratio{backend="onprem-vllm"} 0.25',
      'perimeter_backend_queued{backend="onprem-vllm"} 1',
      'perimeter_records_dropped_total{destination="store",reason="queue_full"} 3',
    ]) {
      assert.ok(body.includes(name), `missing: ${name}`);
    }
    assert.equal(body.includes('perimeter_onprem_utilisation_ratio{backend="public-openai"}'), false);
  });

  it('registries are independent (no global state)', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.observe(sampleRecord(1));
    assert.ok((await a.render()).body.includes('perimeter_requests_total{'));
    assert.equal((await b.render()).body.includes('perimeter_requests_total{'), false);
  });

  it('createLogger still works', () => {
    assert.equal(typeof createLogger('silent').info, 'function');
  });
});

describe('tracing', () => {
  it('is a no-op without an SDK', async () => {
    const t = startRequestTrace('req-1', 'chat');
    const v = await t.stage('classify', async () => 42);
    assert.equal(v, 42);
    t.end(sampleRecord(1));
  });

  it('makes one child span per stage, records errors by code only, and ends with record attributes', async () => {
    const { provider, spans } = recordingProvider();
    const t = startRequestTrace('req-1', 'chat', provider.getTracer('perimeter'));
    t.stage('classify', () => 'sync');
    await assert.rejects(
      t.stage('upstream', async () => {
        throw Object.assign(new Error('upstream said: card 4111111111111111'), { code: 'upstream_error' });
      }),
    );
    t.end(sampleRecord(1, { level: 'regulated' }));
    const [root, classify, upstream] = spans;
    assert.equal(root?.name, 'chat llama-3.1-8b-instruct');
    assert.equal(classify?.parent, root?.id);
    assert.equal(upstream?.parent, root?.id);
    assert.equal(upstream?.attributes['error.type'], 'upstream_error');
    assert.equal(JSON.stringify(spans).includes('4111'), false);
    assert.equal(root?.attributes['perimeter.level'], 'regulated');
    assert.equal(root?.attributes['gen_ai.usage.input_tokens'], 100);
    assert.ok(spans.every((s) => s.ended));
  });
});

describe('alerts', () => {
  const received: { alerts: AlertNotice[] }[] = [];
  let server: Server;
  let url = '';
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as { alerts: AlertNotice[] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('fires on error rate, latency and an open breaker, per backend, and resolves', async () => {
    const config = alertsConfigSchema.parse({
      enabled: true,
      webhook: { url },
      rules: [
        { id: 'errors', kind: 'error_rate', threshold: 0.5, minRequests: 4 },
        { id: 'slow', kind: 'latency', threshold: 1000, percentile: 95, minRequests: 4, tier: 'on-prem' },
        { id: 'breaker', kind: 'breaker_open' },
      ],
    });
    let breaker: 'open' | 'closed' = 'open';
    const t0 = Date.parse('2025-03-01T12:00:00.000Z');
    let now = t0 + 10_000;
    const changes: string[] = [];
    const ev = new AlertEvaluator(config, {
      deploymentId: 'test',
      now: () => now,
      health: () => [{ backendId: 'private-azure', breaker, latencyMs: undefined, retryInMs: 0 }],
      tierOf: (b) => ({ 'onprem-vllm': 'on-prem', 'public-openai': 'public-api', 'private-azure': 'private-cloud' })[b],
      onChange: (rule, backend, firing) => changes.push(`${rule}/${backend}/${firing}`),
    });
    for (let i = 0; i < 6; i++) {
      ev.observe({ ...sampleRecord(i, { tier: 'public-api', status: i < 4 ? 'failed' : 'ok', timeMs: t0 + i }), attempts: [{ backend: 'public-openai', tier: 'public-api', model: 'gpt-4.1-mini', attemptNo: 1, outcome: 'failed', errorCode: 'upstream_error', latencyMs: 1 }] });
      ev.observe({ ...sampleRecord(10 + i, { tier: 'on-prem', timeMs: t0 + i }), latency: { totalMs: 5000, ttftMs: null, overheadMs: 1 } });
    }
    const fired = await ev.evaluate();
    assert.deepEqual(fired.map((a) => `${a.status}:${a.rule}/${a.backend}`).sort(), ['firing:breaker/private-azure', 'firing:errors/public-openai', 'firing:slow/onprem-vllm']);
    assert.equal(received.length, 1);
    assert.equal(received[0]?.alerts.length, 3);
    assert.deepEqual(await ev.evaluate(), [], 'no repeat while still firing');
    breaker = 'closed';
    now = t0 + 3_600_000; // the window has moved past every sample
    const resolved = await ev.evaluate();
    assert.deepEqual(resolved.map((a) => a.status), ['resolved', 'resolved', 'resolved']);
    assert.equal(received.length, 2);
    assert.equal(changes.length, 6);
  });
});
