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

/**
 * JSON with object keys sorted at every depth; undefined members are dropped, as JSON.stringify does.
 * It sits on the request path (every audit entry's hash). When the value is plain JSON whose
 * keys are already in order (the audit trail builds its entries that way), the native
 * JSON.stringify gives exactly the canonical text at a third of the cost; anything else takes
 * the general path.
 */
export function canonicalJson(value: unknown): string {
  return inCanonicalOrder(value) ? (JSON.stringify(value) ?? 'null') : sortedJson(value);
}

function sortedJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += (i === 0 ? '' : ',') + (v === undefined ? 'null' : sortedJson(v));
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  // sort() without a comparator orders by UTF-16 code units, the same order as comparing with `<`.
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${sortedJson(v)}`;
  }
  return `${out}}`;
}

/**
 * Whether JSON.stringify(value) is already canonical: only JSON primitives, arrays and
 * plain objects without toJSON, every object's keys strictly ascending. Functions, symbols,
 * class instances and the like answer false, because JSON.stringify treats them differently.
 */
function inCanonicalOrder(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!inCanonicalOrder(value[i])) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const obj = value as Record<string, unknown>;
  if (typeof obj.toJSON === 'function') return false;
  let prev: string | undefined;
  for (const k in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, k)) return false;
    if (prev !== undefined && !(prev < k)) return false;
    if (!inCanonicalOrder(obj[k])) return false;
    prev = k;
  }
  return true;
}
