import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { SqliteRecordStore } from '../../src/record/sqlite/sqlite-store.js';
import type { DecisionRecord } from '../../src/record/decision-record.js';
import { cliPath } from '../helpers/paths.js';
import { startStack, TEST_KEY, type TestStack } from '../helpers/gateway.js';

const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@acme-corp.io';

describe('one decision record per request, with no raw content anywhere', () => {
  let stack: TestStack;
  let dir: string;
  let dbPath: string;
  let records: DecisionRecord[] = [];
  let metricsText = '';
  const ids: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'perimeter-records-e2e-'));
    dbPath = join(dir, 'records.db');
    stack = await startStack({
      extraYaml: `records: { store: { kind: sqlite, path: ${dbPath} }, queue: { flushIntervalMs: 20, spillPath: ${join(dir, 'spill.jsonl')} } }`,
    });
    const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
    const track = (id: string): Record<string, string> => {
      ids.push(id);
      return { 'x-request-id': id };
    };
    await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: `pay ${CARD}` }] }, { headers: track('r-served') });
    const stream = await openai.chat.completions.create(
      { model: 'llama-3.1-8b-instruct', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `mail ${EMAIL}` }] },
      { headers: track('r-stream') },
    );
    for await (const _ of stream) {
      // drain
    }
    await openai.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: `pay ${CARD}` }] }, { headers: track('r-refused') }).catch(() => undefined);
    await openai.embeddings.create({ model: 'bge-m3', input: 'hello' }, { headers: track('r-embed') });
    await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'r-badjson' }, body: '{nope' });
    ids.push('r-badjson');
    await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'r-badkey', authorization: 'Bearer sk-perimeter-wrong-00000000' },
      body: '{}',
    });
    ids.push('r-badkey');
    await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x [[sim:status=500]]' }] }, { headers: track('r-upstream') }).catch(() => undefined);
    metricsText = await (await fetch(`${stack.url}/metrics`)).text();
    await stack.close(); // drains and flushes the record queue
    const store = new SqliteRecordStore(dbPath);
    records = await store.query({});
    await store.close();
  });
  after(async () => undefined);

  it('writes exactly one record per request, refused and failed ones included', () => {
    for (const id of ids) assert.equal(records.filter((r) => r.requestId === id).length, 1, `records for ${id}`);
    assert.equal(records.length, ids.length);
  });

  it('records where each went, why, and what it cost', () => {
    const byId = (id: string): DecisionRecord => {
      const r = records.find((x) => x.requestId === id);
      assert.ok(r, id);
      return r;
    };
    const served = byId('r-served');
    assert.equal(served.status, 'ok');
    assert.equal(served.served.tier, 'on-prem');
    assert.equal(served.classification.level, 'regulated');
    assert.deepEqual(served.classification.findings, { CREDIT_CARD: 1 });
    assert.ok(served.tokens.input > 0 && served.tokens.output > 0);
    assert.ok(served.policy.version !== null && served.policy.version.length === 12);
    const stream = byId('r-stream');
    assert.equal(stream.stream, true);
    assert.ok(stream.latency.ttftMs !== null && stream.latency.ttftMs >= 0);
    assert.equal(stream.tokens.estimated, false);
    const refused = byId('r-refused');
    assert.equal(refused.httpStatus, 403);
    assert.equal(refused.errorCode, 'model_not_permitted_for_data');
    assert.equal(refused.served.tier, null);
    assert.equal(byId('r-badjson').errorCode, 'invalid_request');
    assert.equal(byId('r-badkey').httpStatus, 401);
    const upstream = byId('r-upstream');
    assert.equal(upstream.errorCode, 'upstream_error');
    assert.ok(upstream.attempts.length >= 1);
    assert.equal(byId('r-embed').operation, 'embedding');
  });

  it('no raw value appears in the records, the store file, or the metrics', () => {
    const raw = [CARD, '4111111111111111', EMAIL];
    const serialised = JSON.stringify(records);
    const db = new Database(dbPath, { readonly: true });
    const dump = JSON.stringify(db.prepare("select * from sqlite_master").all()) + JSON.stringify(db.prepare('select * from decision_records').all());
    db.close();
    for (const value of raw) {
      assert.ok(!serialised.includes(value), `record holds ${value}`);
      assert.ok(!dump.includes(value), `store holds ${value}`);
      assert.ok(!metricsText.includes(value), `metrics hold ${value}`);
    }
    assert.match(metricsText, /perimeter_requests_total\{/);
    assert.match(metricsText, /tier="on-prem"/);
  });

  it('the audit trail verifies, catches an edit, and answers the residency question', () => {
    const config = join(dir, 'perimeter.yaml');
    writeFileSync(
      config,
      `records: { store: { kind: sqlite, path: ${dbPath} } }\nbackends:\n  - { id: b, tier: on-prem, region: eu, protocol: openai, baseUrl: 'http://127.0.0.1:1/v1', maxConcurrency: 1, models: [{ id: m }] }\n`,
    );
    const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [cliPath, ...args, '--config', config], { encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const verified = run('audit', 'verify');
    assert.equal(verified.status, 0, verified.stderr + verified.stdout);
    const residency = run('report', 'residency', '--since', '1d');
    assert.equal(residency.status, 0, residency.stderr);
    assert.match(residency.stdout, /regulated requests served by public-api: 0/);

    const db = new Database(dbPath);
    // Someone with file access: drop the append-only trigger, then rewrite where a request went.
    db.exec('DROP TRIGGER audit_log_no_update');
    const changed = db.prepare("update audit_log set entry = replace(entry, 'on-prem', 'public-api') where position = (select min(position) from audit_log where entry like '%on-prem%')").run();
    assert.equal(changed.changes, 1);
    db.close();
    const tampered = run('audit', 'verify');
    assert.equal(tampered.status, 1, tampered.stdout);
    assert.match(tampered.stdout + tampered.stderr, /break|broken|mismatch/i);
  });
});
