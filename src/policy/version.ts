import { createHash } from 'node:crypto';
import type { Policy } from './schema.js';

/**
 * A stable id for a parsed policy: sha256 over canonical JSON (object keys sorted,
 * array order kept, since rule and tier order are meaningful), first 12 hex chars.
 * Hashing the parsed form means defaults count, so `{}` and the same policy spelled
 * out in full share a version.
 */
export function policyVersion(policy: Policy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex').slice(0, 12);
}

/** JSON with object keys sorted at every depth; undefined members are dropped, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
