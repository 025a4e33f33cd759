import { parseArgs } from 'node:util';
import { DEFAULT_LEVELS } from '../classify/config.js';
import type { CostConfig } from '../record/config.js';
import { CostModel, type PricedEntry } from '../record/cost.js';
import { openStores } from '../record/recorder.js';
import { costReport, parseDuration, renderTable, residencyReport, tiersReport, usageReport, type Period } from '../record/report.js';
import { GROUP_KEYS, type GroupKey } from '../record/store.js';
import type { RecordsCliContext } from './audit.js';

export interface ReportCliContext extends RecordsCliContext {
  readonly cost: CostConfig;
  /** Models and prices (ModelCatalog.entries fits), for cost figures. */
  readonly catalog: readonly PricedEntry[];
  /** The configured level names, lowest first (config.classification.levels). */
  readonly levels?: readonly string[];
}

export const REPORT_USAGE = `perimeter report residency [--since 90d] [--json]
perimeter report usage     [--since 30d] [--by tier,team,workload,model] [--json]
perimeter report tiers     [--since 90d] [--json]
perimeter report cost      [--since 30d] [--json]`;

/** `perimeter report …`. Returns the exit code (residency: 1 when the chain does not verify). */
export async function runReportCli(argv: readonly string[], ctx: ReportCliContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'residency' && sub !== 'usage' && sub !== 'tiers' && sub !== 'cost') {
    ctx.stderr.write(`usage:\n${REPORT_USAGE}\n`);
    return 2;
  }
  let values: { since?: string | undefined; by?: string | undefined; json?: boolean | undefined };
  let period: Period;
  let groupings: GroupKey[][] = [['tier'], ['team'], ['workload'], ['model']];
  try {
    values = parseArgs({ args: [...rest], options: { since: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean' } } }).values;
    const until = (ctx.now ?? Date.now)();
    period = { since: until - parseDuration(values.since ?? (sub === 'usage' || sub === 'cost' ? '30d' : '90d')), until };
    if (values.by !== undefined) {
      const keys = values.by.split(',').map((k) => k.trim());
      const bad = keys.find((k) => !(GROUP_KEYS as readonly string[]).includes(k));
      if (bad !== undefined) throw new Error(`--by: unknown key "${bad}"; expected ${GROUP_KEYS.join(', ')}`);
      groupings = [keys as GroupKey[]];
    }
  } catch (err) {
    ctx.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const json = values.json === true;
  const out = (text: string): void => {
    ctx.stdout.write(`${text}\n`);
  };
  const stores = await openStores(ctx.records, sub === 'residency' ? { ...ctx.audit, enabled: true } : undefined, ctx);
  try {
    switch (sub) {
      case 'residency': {
        if (stores.audit === undefined) throw new Error('audit is not enabled');
        const r = await residencyReport(stores.audit, period, ctx.levels ?? DEFAULT_LEVELS);
        out(json ? JSON.stringify(r, null, 2) : r.lines.join('\n'));
        return r.chain.ok ? 0 : 1;
      }
      case 'usage': {
        const r = await usageReport(stores.records, period, groupings);
        if (json) out(JSON.stringify(r, null, 2));
        else
          for (const s of r.sections) {
            out(`\nby ${s.by.join(' × ')}`);
            out(
              renderTable(
                [...s.by, 'requests', 'errors', 'tokens in', 'tokens out', 'estimated', 'cost USD', 'avg ms', 'ttft ms', 'overhead ms'],
                s.rows.map((row) => [
                  ...s.by.map((k) => row.key[k] ?? null),
                  row.requests,
                  row.errors,
                  row.inputTokens,
                  row.outputTokens,
                  row.estimated,
                  row.cost,
                  row.latencyAvgMs,
                  row.ttftAvgMs,
                  row.overheadAvgMs,
                ]),
              ),
            );
          }
        return 0;
      }
      case 'tiers': {
        const r = await tiersReport(stores.records, period, ctx.cost.consolidation);
        if (json) out(JSON.stringify(r, null, 2));
        else {
          out(renderTable(['workload', 'level', 'capability', 'tier', 'requests'], r.matrix.map((m) => [m.workload, m.level, m.capability, m.tier, m.requests])));
          out('\nconsolidation advice:');
          out(r.advice.length === 0 ? '  none: every workload is within the thresholds' : r.advice.map((a) => `  ${a.advice}`).join('\n'));
        }
        return 0;
      }
      case 'cost': {
        const r = await costReport(stores.records, new CostModel(ctx.cost, ctx.catalog), period);
        if (json) out(JSON.stringify(r, null, 2));
        else {
          out(renderTable(['tier', 'requests', 'tokens in', 'tokens out', 'actual USD', `if ${r.referenceLabel} USD`], r.tiers.map((t) => [t.tier, t.requests, t.inputTokens, t.outputTokens, t.actualCost, t.referenceCost])));
          out(`\nactual: ${r.actualTotal.toFixed(2)} USD; everything on ${r.referenceLabel}: ${r.referenceTotal.toFixed(2)} USD`);
          out(r.saving >= 0 ? `saving: ${r.saving.toFixed(2)} USD` : `cost of compliance: ${(-r.saving).toFixed(2)} USD`);
        }
        return 0;
      }
    }
    return 2;
  } finally {
    await stores.records.close();
    await stores.audit?.store.close();
  }
}
