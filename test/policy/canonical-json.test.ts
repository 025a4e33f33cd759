import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../src/policy/index.js';

/**
 * The definition canonicalJson must keep: audit hashes, policy versions and bundle
 * signatures already on disk were computed with it, so the fast path may never change
 * a single byte. Written for clarity, not speed.
 */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}

/** JSON-ish values with undefined members and keys that sort unlike their insertion order (integer-like ones too). */
const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('10', '9', '0', 'a', 'B', 'é', '__proto_', 'hash', 'seq'));
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined)),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(key, tie('node'), { maxKeys: 5 })),
})).node;

/** Rebuilds every object with its keys inserted in sorted order: the shape that takes the fast path. */
function sortedCopy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(sortedCopy);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortedCopy((v as Record<string, unknown>)[k]);
  return out;
}

describe('canonicalJson', () => {
  it('gives the reference text for any JSON-like value, keys in any order', () => {
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(canonicalJson(v), reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the reference text for values already in key order (the fast path)', () => {
    fc.assert(
      fc.property(value, (v) => {
        const sorted = sortedCopy(v);
        assert.equal(canonicalJson(sorted), reference(sorted));
      }),
      { numRuns: 2000 },
    );
  });

  it('treats what JSON.stringify would treat specially the way the definition does', () => {
    const fn = (): number => 1;
    const cases: unknown[] = [
      { a: fn, b: 1 },
      [fn, Symbol('s')],
      { toJSON: () => 'x', a: 1 },
      { when: new Date(0) },
      Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 }),
      { b: new Map([[1, 2]]), a: [undefined, null] },
      Object.assign(Object.create(null) as object, { z: 1, a: 2 }),
    ];
    for (const c of cases) assert.equal(canonicalJson(c), reference(c));
  });
});
