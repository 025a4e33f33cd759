import { TIERS } from '../../domain/tier.js';
import type { ApiKeyRecord, TierGrant } from '../api-key.js';
import type { LimitValues } from '../limits/config.js';
import { KeyStoreError } from './key-store.js';

/** The list and limit columns, as JSON text. Shared by the SQL stores so both read what the other wrote. */
export interface EncodedGrant {
  roles: string;
  models: string;
  tiers: string;
  limits: string;
}

export function encodeGrant(r: ApiKeyRecord): EncodedGrant {
  return {
    roles: JSON.stringify(r.roles),
    models: JSON.stringify(r.models),
    tiers: JSON.stringify(r.tiers),
    limits: JSON.stringify(r.limits),
  };
}

const LIMIT_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'spendPerDayUsd', 'spendPerMonthUsd'] as const;

/** Rows are checked on the way out: a hand-edited row must not grant more than it says. */
export function decodeStrings(id: string, field: string, text: unknown): string[] {
  const value = parse(id, field, text);
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) corrupt(id, field);
  return value;
}

export function decodeTiers(id: string, text: unknown): TierGrant[] {
  const values = decodeStrings(id, 'tiers', text);
  const known: readonly string[] = [...TIERS, '*'];
  if (!values.every((v) => known.includes(v))) corrupt(id, 'tiers');
  return values as TierGrant[];
}

export function decodeLimits(id: string, text: unknown): LimitValues {
  const value = parse(id, 'limits', text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) corrupt(id, 'limits');
  const out: { -readonly [K in keyof LimitValues]: LimitValues[K] } = {};
  for (const [k, v] of Object.entries(value)) {
    if (!(LIMIT_FIELDS as readonly string[]).includes(k) || typeof v !== 'number' || !Number.isFinite(v) || v < 0) corrupt(id, 'limits');
    out[k as (typeof LIMIT_FIELDS)[number]] = v;
  }
  return out;
}

function parse(id: string, field: string, text: unknown): unknown {
  if (typeof text !== 'string') {
    // pg returns jsonb already parsed; re-serialising keeps one validation path.
    if (text !== null && typeof text === 'object') return text;
    corrupt(id, field);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return corrupt(id, field);
  }
}

function corrupt(id: string, field: string): never {
  throw new KeyStoreError('corrupt', `key ${id}: stored ${field} is malformed`);
}

/** The columns both SQL stores share; each keeps its own time columns. */
export interface SharedRow {
  id: string;
  hash: string;
  prefix: string;
  owner: string;
  team: string | null;
  roles: unknown;
  workload: string | null;
  models: unknown;
  tiers: unknown;
  limits: unknown;
  description: string | null;
  rotated_from: string | null;
}

/** One row → record mapping for both SQL stores, so the two cannot drift apart. */
export function decodeRow(row: SharedRow, times: { createdAt: Date; expiresAt: Date | undefined; revokedAt: Date | undefined }): ApiKeyRecord {
  return {
    id: row.id,
    hash: row.hash,
    prefix: row.prefix,
    owner: row.owner,
    team: row.team ?? undefined,
    roles: decodeStrings(row.id, 'roles', row.roles),
    workload: row.workload ?? undefined,
    models: decodeStrings(row.id, 'models', row.models),
    tiers: decodeTiers(row.id, row.tiers),
    limits: decodeLimits(row.id, row.limits),
    description: row.description ?? undefined,
    rotatedFrom: row.rotated_from ?? undefined,
    ...times,
  };
}
