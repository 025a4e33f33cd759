import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { createClassifier } from '../../src/classify/classifier.js';
import { formatIssues } from '../../src/config/issues.js';
import type { ChatRequest } from '../../src/domain/chat.js';
import { AuditLog } from '../../src/record/audit.js';
import { alertsConfigSchema, auditConfigSchema, costConfigSchema, recordsConfigSchema } from '../../src/record/config.js';
import { recordFromContext } from '../../src/record/decision-record.js';
import { Recorder } from '../../src/record/recorder.js';
import { chatContent, createSinks, FileContentSink, HttpSink } from '../../src/record/sinks.js';
import { SharedSqlite, SqliteAuditStore, SqliteRecordStore } from '../../src/record/sqlite/sqlite-store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { context, decision, deps, outcome, tempDir } from './support.js';

const SECRETS = {
  name: 'Margarethe Oyelaran-Whitfield',
  email: 'm.oyelaran@klinik-example.de',
  iban: 'DE89370400440532013000',
  card: '4111111111111111',
  diagnosis: 'HIV positive',
};
const PROMPT = `Patient ${SECRETS.name}, ${SECRETS.email}, diagnosis ${SECRETS.diagnosis}; bill IBAN ${SECRETS.iban}, card ${SECRETS.card}.`;
const COMPLETION = `Noted for ${SECRETS.name}.`;

function captureStream(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    }),
    text: () => chunks.join(''),
  };
}

describe('residency: a regulated request', () => {
  const tmp = tempDir();
  const bodies: { path: string; body: string }[] = [];
  let server: Server;
  let base = '';
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    tmp.cleanup();
  });

  it('reaches no metadata sink, log line or metric label; only the on-prem content sink', async () => {
    const logs = captureStream();
    const logger = createLogger('info', logs.stream);
    const config = recordsConfigSchema.parse({
      queue: { batchSize: 10, flushIntervalMs: 60_000 },
      sinks: [
        { name: 'stdout', type: 'stdout', zone: 'cloud' },
        { name: 'file', type: 'file', zone: 'cloud', path: `${tmp.dir}/records.jsonl` },
        { name: 'otlp', type: 'http', zone: 'cloud', url: `${base}/v1/logs`, format: 'otlp' },
        { name: 'siem', type: 'http', zone: 'cloud', url: `${base}/siem`, format: 'json' },
        { name: 'onprem-content', type: 'file', zone: 'on-prem', content: true, path: `${tmp.dir}/onprem.jsonl` },
      ],
    });
    const sinks = createSinks(config.sinks, { logger });
    assert.equal(sinks.content.length, 1);
    const shared = new SharedSqlite(`${tmp.dir}/records.db`);
    const store = new SqliteRecordStore(shared);
    await store.migrate();
    const auditStore = new SqliteAuditStore(shared);
    await auditStore.migrate();
    const metrics = createMetrics({ backends: ['onprem-vllm'] });
    const recorder = new Recorder({
      queue: config.queue,
      store,
      audit: new AuditLog(auditStore, { deploymentId: 'test' }),
      sinks: sinks.records,
      contentSinks: sinks.content,
      observers: [metrics],
      queueObserver: metrics,
      logger,
    });

    const request: ChatRequest = { model: 'llama-3.1-8b-instruct', stream: false, includeUsage: false, protocolParams: {}, messages: [{ role: 'user', content: [{ type: 'text', text: PROMPT }] }] };
    const classification = createClassifier({}).classifySegments([{ path: 'messages[0].content[0].text', text: PROMPT }]);
    assert.equal(classification.level, 'regulated');
    const ctx = context({ classification, decision: decision('regulated', { matchedRules: ['regulated-on-prem'] }), principal: { id: 'key-1', kind: 'api_key', team: 'care' } });
    const record = recordFromContext(ctx, outcome(), deps());
    logger.info({ requestId: record.requestId, level: record.classification.level, tier: record.served.tier }, 'request served');
    recorder.record(record);
    assert.equal(recorder.wantsContent, true);
    recorder.content(chatContent(record, request, COMPLETION));
    await recorder.flush();

    const metadata = [
      logs.text(),
      readFileSync(`${tmp.dir}/records.jsonl`, 'utf8'),
      ...bodies.map((b) => b.body),
      (await metrics.render()).body,
      JSON.stringify(await store.query({})),
    ];
    assert.equal(bodies.length, 2);
    assert.ok(logs.text().includes('decision record'), 'the stdout sink did write');
    assert.ok(bodies.some((b) => b.path === '/v1/logs' && b.body.includes('resourceLogs')));
    for (const [kind, value] of Object.entries(SECRETS)) {
      for (const m of metadata) assert.equal(m.includes(value), false, `${kind} reached a metadata destination`);
    }
    // The test would pass vacuously if content went nowhere: the on-prem sink does hold it.
    const content = readFileSync(`${tmp.dir}/onprem.content.jsonl`, 'utf8');
    assert.ok(content.includes(SECRETS.iban) && content.includes(COMPLETION));
    await recorder.close();
  });

  it('config refuses a content sink outside zone on-prem, naming the path', () => {
    const root = z.strictObject({ records: recordsConfigSchema });
    const r = root.safeParse({ records: { sinks: [{ name: 'ok', type: 'stdout', zone: 'cloud' }, { name: 'dash', type: 'http', zone: 'cloud', url: 'https://dash.example/v1/logs', content: true }] } });
    assert.equal(r.success, false);
    if (r.success) return;
    assert.deepEqual(formatIssues(r.error.issues), ['records.sinks[1].content: content (prompts and completions) may only go to a sink in zone on-prem; sink "dash" is zone cloud']);
  });

  it('content sinks built by hand outside on-prem throw too', () => {
    assert.throws(() => new FileContentSink('x', 'cloud', '/tmp/x.jsonl'), /zone on-prem/);
    assert.ok(new HttpSink('y', 'cloud', { url: 'http://127.0.0.1:1', format: 'json', timeoutMs: 10 }));
  });
});

describe('config sections', () => {
  it('all default', () => {
    const records = recordsConfigSchema.parse({});
    assert.deepEqual(records.store, { kind: 'sqlite', path: 'perimeter-records.db' });
    assert.equal(records.retentionDays, 90);
    assert.deepEqual(records.queue, { size: 10_000, batchSize: 200, flushIntervalMs: 1000, whenFull: 'drop_oldest', spillPath: 'perimeter-records.spill.jsonl', writeRetries: 3, journal: true });
    assert.equal(costConfigSchema.parse({}).reference.label, 'public-api');
    assert.equal(costConfigSchema.parse({}).consolidation.onPremMinRequestsPerDay, 100);
    assert.deepEqual(auditConfigSchema.parse({}), { enabled: true, decisions: true });
    assert.equal(alertsConfigSchema.parse({}).rules.length, 3);
  });

  it('refuses a postgres password inline and accepts it by reference', () => {
    const root = z.strictObject({ records: recordsConfigSchema });
    const bad = root.safeParse({ records: { store: { kind: 'postgres', url: 'postgres://u:hunter2@db/x' } } });
    assert.equal(bad.success, false);
    if (!bad.success) {
      const lines = formatIssues(bad.error.issues);
      assert.match(lines[0] ?? '', /^records\.store\.url: contains a password/);
      assert.equal(lines.join('').includes('hunter2'), false);
    }
    assert.equal(root.safeParse({ records: { store: { kind: 'postgres', urlRef: 'env:PERIMETER_RECORDS_PG' } } }).success, true);
    assert.equal(root.safeParse({ records: { store: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1/test' } } }).success, true);
  });

  it('alerts need a webhook when enabled', () => {
    const r = z.strictObject({ alerts: alertsConfigSchema }).safeParse({ alerts: { enabled: true } });
    assert.equal(r.success, false);
    if (!r.success) assert.deepEqual(formatIssues(r.error.issues), ['alerts.webhook: is required when alerts are enabled']);
  });
});
