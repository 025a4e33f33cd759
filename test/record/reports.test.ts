import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAuditCli } from '../../src/cli/audit.js';
import { runReportCli, type ReportCliContext } from '../../src/cli/report.js';
import { auditConfigSchema, recordsConfigSchema } from '../../src/record/config.js';
import { blendedPerToken, CostModel, MONTH_MS } from '../../src/record/cost.js';
import { Recorder, openStores, startRetention } from '../../src/record/recorder.js';
import { SqliteRecordStore } from '../../src/record/sqlite/sqlite-store.js';
import { parseDuration } from '../../src/record/report.js';
import { CATALOG, COST, sampleRecord, tempDir } from './support.js';

const NOW = Date.parse('2025-03-02T00:00:00.000Z');

function capture(): { write: (t: string) => boolean; text: () => string } {
  let out = '';
  return { write: (t: string) => ((out += t), true), text: () => out };
}

describe('cost model', () => {
  it('cloud: list price; on-prem: blended rate at utilisation', () => {
    const m = new CostModel(COST, CATALOG);
    assert.deepEqual(m.price('private-azure', 'gpt-4o', 'private-cloud', 1_000_000, 100_000), { amount: 3.5, basis: 'price' });
    const rate = COST.onPrem['onprem-vllm'];
    assert.ok(rate);
    // (36000/36 + 500) per month over 2000 tok/s × a month × 50 %.
    const perToken = 1500 / (2000 * (MONTH_MS / 1000) * 0.5);
    assert.ok(Math.abs(blendedPerToken(rate, 0.5) - perToken) < 1e-15);
    assert.ok(blendedPerToken(rate, 0.25) > blendedPerToken(rate, 0.5), 'lower utilisation, dearer tokens');
    const p = m.onPremPeriod('onprem-vllm', MONTH_MS, 1000, 0);
    assert.ok(p && Math.abs(p.cost - 1500) < 1e-9);
    assert.equal(m.referenceCost(1_000_000, 1_000_000), 12.5);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('90d'), 90 * 86_400_000);
    assert.equal(parseDuration('12h'), 12 * 3_600_000);
    assert.throws(() => parseDuration('ninety days'), /expected a duration/);
  });
});

describe('reports and CLI on recorded traffic', () => {
  const tmp = tempDir();
  let ctx: ReportCliContext;
  before(async () => {
    const records = recordsConfigSchema.parse({ store: { kind: 'sqlite', path: `${tmp.dir}/r.db` } });
    const audit = auditConfigSchema.parse({});
    const stores = await openStores(records, audit, { deploymentId: 'demo' });
    const recorder = new Recorder({ queue: records.queue, store: stores.records, audit: stores.audit });
    // A day of demo-like traffic.
    let i = 0;
    const t = (k: number): number => NOW - 86_400_000 + k * 60_000;
    for (let k = 0; k < 30; k++) recorder.record(sampleRecord(i++, { tier: 'on-prem', level: 'regulated', workload: 'support-bot', team: 'care', timeMs: t(k) }));
    for (let k = 0; k < 20; k++) recorder.record(sampleRecord(i++, { tier: 'private-cloud', level: 'confidential', workload: 'research', team: 'analytics', capability: 'frontier', timeMs: t(k), input: 2000, output: 800 }));
    for (let k = 0; k < 10; k++) recorder.record(sampleRecord(i++, { tier: 'public-api', level: 'public', team: 'marketing', capability: 'mid', timeMs: t(k), input: 500, output: 300 }));
    recorder.record(sampleRecord(i++, { level: 'regulated', status: 'rejected', timeMs: t(40) }));
    await recorder.close();
    ctx = {
      deploymentId: 'demo',
      records,
      audit,
      cost: { ...COST, consolidation: { onPremMinRequestsPerDay: 50, privateCloudMaxRequestsPerDay: 10 } },
      catalog: CATALOG,
      stdout: capture(),
      stderr: capture(),
      now: () => NOW,
    };
  });
  after(() => tmp.cleanup());

  const run = async (fn: typeof runReportCli | typeof runAuditCli, argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    const stdout = capture();
    const stderr = capture();
    const code = await fn(argv, { ...ctx, stdout, stderr });
    return { code, out: stdout.text(), err: stderr.text() };
  };

  it('report residency: verified chain, counts per level × tier', async () => {
    const r = await run(runReportCli, ['residency', '--since', '90d']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^audit chain verified: 61 entries/m);
    assert.match(r.out, /^regulated requests served by public-api: 0$/m);
    assert.match(r.out, /^regulated requests served by on-prem: 30$/m);
    assert.match(r.out, /^confidential requests served by private-cloud: 20$/m);
    assert.match(r.out, /^regulated requests not served \(refused or failed\): 1$/m);
  });

  it('report usage: per tier, team, workload and model; table and JSON', async () => {
    const table = await run(runReportCli, ['usage', '--since', '7d']);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /by tier\n/);
    assert.match(table.out, /by team\n/);
    assert.match(table.out, /on-prem\s+30\s+0\s+3000\s+1500/);
    const json = await run(runReportCli, ['usage', '--by', 'tier,team', '--json']);
    const parsed = JSON.parse(json.out) as { sections: { by: string[]; rows: { key: Record<string, string>; requests: number }[] }[] };
    assert.deepEqual(parsed.sections[0]?.by, ['tier', 'team']);
    assert.equal(parsed.sections[0]?.rows.find((x) => x.key.team === 'analytics')?.requests, 20);
    assert.equal((await run(runReportCli, ['usage', '--by', 'colour'])).code, 2);
  });

  it('report tiers: the matrix and consolidation advice from thresholds', async () => {
    const r = await run(runReportCli, ['tiers', '--since', '1d', '--json']);
    const parsed = JSON.parse(r.out) as { matrix: { workload: string; level: string; capability: string; tier: string; requests: number }[]; advice: { advice: string }[] };
    assert.deepEqual(parsed.matrix.find((m) => m.workload === 'research'), { workload: 'research', level: 'confidential', capability: 'frontier', tier: 'private-cloud', requests: 20 });
    assert.deepEqual(parsed.advice.map((a) => a.advice), [
      'research: 20 requests/day on private-cloud, over 10; evaluate on-prem',
      'support-bot: 30 requests/day on-prem, under 50; consider private-cloud',
    ]);
    const table = await run(runReportCli, ['tiers', '--since', '1d']);
    assert.match(table.out, /consolidation advice:/);
  });

  it('report cost: actual per tier, everything on public-api, and the difference', async () => {
    const r = await run(runReportCli, ['cost', '--since', '30d', '--json']);
    const c = JSON.parse(r.out) as { tiers: { tier: string; actualCost: number; referenceCost: number }[]; actualTotal: number; referenceTotal: number; saving: number };
    const onPrem = c.tiers.find((t) => t.tier === 'on-prem');
    // 30 days of a 1500/month machine, whatever the traffic.
    assert.ok(onPrem && Math.abs(onPrem.actualCost - 1500 * ((30 * 86_400_000) / MONTH_MS)) < 0.01);
    assert.equal(c.tiers.find((t) => t.tier === 'private-cloud')?.actualCost, 0.26);
    assert.ok(Math.abs(c.saving - (c.referenceTotal - c.actualTotal)) < 1e-6);
    const table = await run(runReportCli, ['cost']);
    assert.match(table.out, /cost of compliance: \d+\.\d\d USD/);
  });

  it('audit verify and export', async () => {
    const v = await run(runAuditCli, ['verify']);
    assert.equal(v.code, 0);
    assert.match(v.out, /^audit chain verified: 61 entries, head 61:[0-9a-f]{64}$/m);
    const jsonl = await run(runAuditCli, ['export', '--format', 'jsonl', '--since', '90d']);
    assert.equal(jsonl.out.trim().split('\n').length, 61);
    const ocsf = await run(runAuditCli, ['export', '--format', 'ocsf', '--kind', 'decision']);
    const first = JSON.parse(ocsf.out.split('\n')[0] ?? '{}') as { class_uid: number; api: { operation: string } };
    assert.equal(first.class_uid, 6003);
    assert.equal(first.api.operation, 'route');
    assert.equal((await run(runAuditCli, ['export', '--format', 'csv'])).code, 2);
    const badHead = await run(runAuditCli, ['verify', '--head', `99:${'a'.repeat(64)}`]);
    assert.equal(badHead.code, 1);
    assert.match(badHead.out, /audit chain BROKEN: chain ends at seq 61/);
  });
});

describe('retention', () => {
  it('purges records older than retentionDays at start', async () => {
    const tmp = tempDir();
    const store = new SqliteRecordStore(`${tmp.dir}/ret.db`);
    await store.migrate();
    await store.append([sampleRecord(1, { timeMs: NOW - 100 * 86_400_000 }), sampleRecord(2, { timeMs: NOW - 86_400_000 })]);
    let purged!: () => void;
    const done = new Promise<void>((r) => (purged = r));
    const stop = startRetention({ ...store, kind: store.kind, migrate: () => store.migrate(), append: (b) => store.append(b), query: (f, p) => store.query(f, p), count: (f) => store.count(f), aggregate: (f, g) => store.aggregate(f, g), series: (f, b, g) => store.series(f, b, g), latencyPercentiles: (f, g, p) => store.latencyPercentiles(f, g, p), close: () => store.close(), purge: async (before) => { const n = await store.purge(before); purged(); return n; } }, { retentionDays: 90, purgeIntervalMinutes: 60 }, undefined, () => NOW);
    await done;
    stop();
    assert.deepEqual((await store.query({})).map((r) => r.requestId), ['req-2']);
    await store.close();
    tmp.cleanup();
  });
});
