import { parseArgs } from 'node:util';
import { AUDIT_KINDS, type AuditKind, type ChainHead } from '../record/audit.js';
import type { AuditConfig, RecordsConfig, ResolveSecret } from '../record/config.js';
import { openStores } from '../record/recorder.js';
import { parseDuration } from '../record/report.js';

/** What the records CLIs need from the loaded config; the lead builds it from Config. */
export interface RecordsCliContext {
  readonly deploymentId: string;
  readonly records: RecordsConfig;
  readonly audit: AuditConfig;
  readonly resolveSecret?: ResolveSecret;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly now?: () => number;
}

export const AUDIT_USAGE = `perimeter audit verify [--head SEQ:HASH] [--json]
perimeter audit export --format jsonl|ocsf [--since 90d] [--kind decision|admin|key|policy|federation]`;

/**
 * `perimeter audit …`. Returns the exit code: 0 ok, 1 chain broken, 2 usage error.
 * argv is what follows `audit`.
 */
export async function runAuditCli(argv: readonly string[], ctx: RecordsCliContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify' && sub !== 'export') {
    ctx.stderr.write(`usage:\n${AUDIT_USAGE}\n`);
    return 2;
  }
  let values: { head?: string | undefined; json?: boolean | undefined; format?: string | undefined; since?: string | undefined; kind?: string | undefined };
  try {
    values = parseArgs({
      args: [...rest],
      options: { head: { type: 'string' }, json: { type: 'boolean' }, format: { type: 'string' }, since: { type: 'string' }, kind: { type: 'string' } },
    }).values;
  } catch (err) {
    ctx.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const stores = await openStores(ctx.records, { ...ctx.audit, enabled: true }, ctx);
  const audit = stores.audit;
  try {
    if (audit === undefined) throw new Error('audit is not enabled');
    if (sub === 'verify') {
      let expectedHead: ChainHead | undefined;
      if (values.head !== undefined) {
        const m = /^(\d+):([0-9a-f]{64})$/.exec(values.head);
        if (m === null) {
          ctx.stderr.write('--head: expected SEQ:HASH (64 hex digits)\n');
          return 2;
        }
        expectedHead = { seq: Number(m[1]), hash: m[2] as string };
      }
      const result = await audit.verify(expectedHead === undefined ? {} : { expectedHead });
      if (values.json === true) ctx.stdout.write(`${JSON.stringify(result)}\n`);
      else if (result.ok) ctx.stdout.write(`audit chain verified: ${result.entries} entries${result.head === undefined ? '' : `, head ${result.head.seq}:${result.head.hash}`}\n`);
      else ctx.stdout.write(`audit chain BROKEN: ${result.message}\n`);
      return result.ok ? 0 : 1;
    }
    const format = values.format ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'ocsf') {
      ctx.stderr.write('--format: expected jsonl or ocsf\n');
      return 2;
    }
    if (values.kind !== undefined && !(AUDIT_KINDS as readonly string[]).includes(values.kind)) {
      ctx.stderr.write(`--kind: expected one of ${AUDIT_KINDS.join(', ')}\n`);
      return 2;
    }
    const now = (ctx.now ?? Date.now)();
    const filter = {
      ...(values.since === undefined ? {} : { since: now - parseDuration(values.since) }),
      ...(values.kind === undefined ? {} : { kind: values.kind as AuditKind }),
    };
    for await (const line of audit.export(format, filter)) ctx.stdout.write(`${line}\n`);
    return 0;
  } finally {
    await stores.records.close();
    await audit?.store.close();
  }
}
