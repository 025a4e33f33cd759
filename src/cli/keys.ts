import { parseArgs } from 'node:util';
import { TIERS } from '../domain/tier.js';
import type { TierGrant } from '../identity/api-key.js';
import { KeyError, type ApiKeyService, type ApiKeyView, type CreateKeyInput } from '../identity/keys.js';
import type { LimitValues } from '../identity/limits/config.js';

export const KEYS_USAGE = `Usage:
  perimeter keys create --owner NAME [--team T] [--role R]... [--workload W] [--model M]... [--tier T]...
                        [--expires 30d|2026-12-31T00:00:00Z] [--rpm N] [--tpm N] [--daily-usd X] [--monthly-usd X]
                        [--description TEXT] [--json]          prints the new key ONCE
  perimeter keys list   [--json]                               id, prefix, owner, team, roles, state
  perimeter keys revoke <id>                                   refused on every instance at once
  perimeter keys rotate <id> [--grace SECONDS] [--json]        new key with the same grant; old one revoked
`;

export interface KeysCommandDeps {
  readonly keys: ApiKeyService;
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
  /** Role names from auth.roles; a key naming another role is refused. */
  readonly knownRoles?: readonly string[];
  readonly now?: () => Date;
}

class UsageError extends Error {}

/**
 * `perimeter keys …`. The lead opens the key store from the config
 * (identity/setup.ts openKeyService) and passes it in. Returns the exit code.
 * A key in clear is written to `out` exactly once, by create or rotate.
 */
export async function keysCommand(args: readonly string[], deps: KeysCommandDeps): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'create':
        return await create(rest, deps);
      case 'list':
        return await list(rest, deps);
      case 'revoke':
        return await revoke(rest, deps);
      case 'rotate':
        return await rotate(rest, deps);
      default:
        deps.err.write(`${sub === undefined ? 'keys: name a subcommand' : `keys: unknown subcommand "${sub}"`}\n${KEYS_USAGE}`);
        return 1;
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof KeyError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      deps.err.write(`keys ${sub ?? ''}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function create(args: readonly string[], deps: KeysCommandDeps): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      owner: { type: 'string' },
      team: { type: 'string' },
      role: { type: 'string', multiple: true },
      workload: { type: 'string' },
      model: { type: 'string', multiple: true },
      tier: { type: 'string', multiple: true },
      expires: { type: 'string' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      'daily-usd': { type: 'string' },
      'monthly-usd': { type: 'string' },
      description: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (values.owner === undefined || values.owner.trim() === '') throw new UsageError('--owner is required');
  const roles = values.role ?? ['user'];
  const unknown = deps.knownRoles === undefined ? [] : roles.filter((r) => !deps.knownRoles!.includes(r));
  if (unknown.length > 0) throw new UsageError(`unknown role ${unknown.map((r) => `"${r}"`).join(', ')} (known: ${deps.knownRoles!.join(', ')})`);
  const tiers = values.tier ?? ['*'];
  const known: readonly string[] = [...TIERS, '*'];
  for (const t of tiers) if (!known.includes(t)) throw new UsageError(`--tier: expected one of ${known.join('|')}, got "${t}"`);
  const now = deps.now?.() ?? new Date();
  const limits: { -readonly [K in keyof LimitValues]: LimitValues[K] } = {};
  if (values.rpm !== undefined) limits.requestsPerMinute = positiveInt('--rpm', values.rpm);
  if (values.tpm !== undefined) limits.tokensPerMinute = positiveInt('--tpm', values.tpm);
  if (values['daily-usd'] !== undefined) limits.spendPerDayUsd = usd('--daily-usd', values['daily-usd']);
  if (values['monthly-usd'] !== undefined) limits.spendPerMonthUsd = usd('--monthly-usd', values['monthly-usd']);
  const input: CreateKeyInput = {
    owner: values.owner.trim(),
    team: values.team,
    roles,
    workload: values.workload,
    models: values.model ?? ['*'],
    tiers: tiers as TierGrant[],
    limits,
    expiresAt: values.expires === undefined ? undefined : expiry(values.expires, now),
    description: values.description,
  };
  const { key, record } = await deps.keys.create(input);
  if (values.json === true) deps.out.write(`${JSON.stringify({ id: record.id, key, prefix: record.prefix })}\n`);
  else deps.out.write(`Created ${record.id} for ${record.owner}.\n\n  ${key}\n\nStore it now: it is shown only this once. Later it appears only as ${record.prefix}…\n`);
  return 0;
}

async function list(args: readonly string[], deps: KeysCommandDeps): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } } });
  const keys = await deps.keys.list();
  if (values.json === true) {
    deps.out.write(`${JSON.stringify(keys.map(publicFields))}\n`);
    return 0;
  }
  const rows = [['ID', 'PREFIX', 'OWNER', 'TEAM', 'ROLES', 'STATE', 'EXPIRES']];
  for (const k of keys) {
    rows.push([k.id, `${k.prefix}…`, k.owner, k.team ?? '-', k.roles.join(','), k.state, k.expiresAt?.toISOString() ?? '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) deps.out.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  return 0;
}

async function revoke(args: readonly string[], deps: KeysCommandDeps): Promise<number> {
  const { positionals } = parseArgs({ args: [...args], allowPositionals: true, options: {} });
  const id = positionals[0];
  if (id === undefined || positionals.length !== 1) throw new UsageError('name exactly one key id');
  const view = await deps.keys.revoke(id);
  if (view === undefined) throw new UsageError(`no key with id ${id}`);
  deps.out.write(`Revoked ${view.id} (${view.prefix}…).\n`);
  return 0;
}

async function rotate(args: readonly string[], deps: KeysCommandDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { grace: { type: 'string' }, json: { type: 'boolean' } },
  });
  const id = positionals[0];
  if (id === undefined || positionals.length !== 1) throw new UsageError('name exactly one key id');
  const grace = values.grace === undefined ? 0 : nonNegativeInt('--grace', values.grace);
  const { key, record, old } = await deps.keys.rotate(id, { graceSeconds: grace });
  if (values.json === true) {
    deps.out.write(`${JSON.stringify({ id: record.id, key, prefix: record.prefix, replaced: old.id, oldRevokedAt: old.revokedAt?.toISOString() })}\n`);
  } else {
    const when = grace === 0 ? 'now' : `at ${old.revokedAt?.toISOString() ?? '?'}`;
    deps.out.write(`Rotated ${old.id} → ${record.id}; the old key stops working ${when}.\n\n  ${key}\n\nStore it now: it is shown only this once.\n`);
  }
  return 0;
}

function publicFields(k: ApiKeyView): Record<string, unknown> {
  return {
    id: k.id,
    prefix: k.prefix,
    owner: k.owner,
    team: k.team,
    roles: k.roles,
    workload: k.workload,
    models: k.models,
    tiers: k.tiers,
    limits: k.limits,
    state: k.state,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString(),
    revokedAt: k.revokedAt?.toISOString(),
    rotatedFrom: k.rotatedFrom,
  };
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a positive integer, got "${v}"`);
  return n;
}

function nonNegativeInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag}: expected a non-negative integer, got "${v}"`);
  return n;
}

function usd(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: expected an amount in USD, got "${v}"`);
  return n;
}

const DURATION = /^(\d+)([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30d", "12h", "90m", or an ISO date; it must lie in the future. */
export function expiry(v: string, now: Date): Date {
  const m = DURATION.exec(v);
  const at = m !== null ? new Date(now.getTime() + Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]) : new Date(v);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--expires: expected 30d, 12h, 90m or an ISO date, got "${v}"`);
  if (at.getTime() <= now.getTime()) throw new UsageError('--expires: must lie in the future');
  return at;
}
