import { z } from 'zod';
import { CAPABILITIES, TIERS, type Tier } from '../domain/tier.js';

/**
 * The `policy:` section of the root config. Every field has a default, so
 * `policySchema.parse({})` is a complete policy: the built-in matrix below, no
 * workloads, no rules, and `[on-prem]` for anything the matrix does not cover.
 *
 * Keys follow the issue's vocabulary: effects are snake_case (`allow_tiers`,
 * `region_in`, ...) because that is how operators write them in policy docs.
 */

/** Matrix columns: the three capabilities, plus `any` for a row that does not care. */
export const MATRIX_COLUMNS = [...CAPABILITIES, 'any'] as const;
export type MatrixColumn = (typeof MATRIX_COLUMNS)[number];

/** A cell: tiers in order of preference, or `deny` (no tier may receive this data). */
export type MatrixCell = readonly Tier[] | 'deny';
export type MatrixRow = Partial<Record<MatrixColumn, MatrixCell>>;

/**
 * The built-in matrix, keyed by the classifier's default level names. Documented in
 * docs/policy.md; the demo config relies on it to show all three tiers being chosen.
 */
export const DEFAULT_MATRIX: Readonly<Record<string, MatrixRow>> = Object.freeze({
  regulated: Object.freeze({ any: Object.freeze(['on-prem'] as const) }),
  confidential: Object.freeze({
    basic: Object.freeze(['on-prem', 'private-cloud'] as const),
    mid: Object.freeze(['on-prem', 'private-cloud'] as const),
    frontier: Object.freeze(['private-cloud'] as const),
  }),
  internal: Object.freeze({ any: Object.freeze(['on-prem', 'private-cloud'] as const) }),
  public: Object.freeze({
    basic: Object.freeze(['on-prem', 'public-api', 'private-cloud'] as const),
    mid: Object.freeze(['public-api', 'private-cloud', 'on-prem'] as const),
    frontier: Object.freeze(['public-api', 'private-cloud', 'on-prem'] as const),
  }),
});

/** What an uncovered (level, capability) pair gets when the policy says nothing. */
export const DEFAULT_FALLBACK: readonly Tier[] = Object.freeze(['on-prem']);

const CELL_MESSAGE = `expected "deny" or a list of tiers from ${TIERS.join('|')}`;

// A union's own error says only "Invalid input"; one message naming both shapes is
// clearer. Repeated tiers are reported by the top-level check, with their index.
const cell = z.union([z.literal('deny'), z.array(z.enum(TIERS)).min(1)], { error: () => CELL_MESSAGE });

const tierList = z.array(z.enum(TIERS)).min(1, { message: 'must list at least one tier' });

const row = z.strictObject({
  basic: cell.optional(),
  mid: cell.optional(),
  frontier: cell.optional(),
  any: cell.optional(),
});

/** Same shape as the classifier's level names, so a typo is caught here, not at match time. */
const levelName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, { message: 'must be a level name (lowercase, digits, "_" or "-")' });

/** A record's own key error says only "Invalid key in record"; name what a key must be. */
const keyError = (what: string) => ({ error: (iss: { code?: string }) => (iss.code === 'invalid_key' ? what : undefined) });

const matrix = z.record(levelName, row, keyError('must be a level name (lowercase, digits, "_" or "-")'));

const ruleId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

const workloadName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, { message: 'must be letters, digits, ".", "_", ":" or "-"' });

const entityType = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, { message: 'must be an entity type such as EMAIL_ADDRESS' });

/** Non-empty on purpose: an empty list would match nothing, silently disabling a deny rule. */
const nonEmpty = <T extends z.ZodType>(item: T) => z.array(item).min(1, { message: 'must not be empty (omit the condition instead)' });

const workload = z.strictObject({
  /** The capability `perimeter/auto` resolves to for this workload. */
  capability: z.enum(CAPABILITIES),
  /** Cells that replace the global matrix's for this workload only (may widen it: an explicit operator choice). */
  matrix: matrix.optional(),
  description: z.string().max(500).optional(),
});

const principalCondition = z.strictObject({
  ids: nonEmpty(z.string().min(1)).optional(),
  kinds: nonEmpty(z.enum(['anonymous', 'api_key', 'jwt'])).optional(),
  teams: nonEmpty(z.string().min(1)).optional(),
  /** Matches when the principal has any of these roles. */
  roles: nonEmpty(z.string().min(1)).optional(),
  /** Matches when the principal is in any of these groups. */
  groups: nonEmpty(z.string().min(1)).optional(),
  /** Every listed attribute must be present with one of the listed values. */
  attributes: z.record(z.string().min(1), nonEmpty(z.string())).optional(),
});

/** All present conditions must match; an absent condition matches anything. */
const condition = z.strictObject({
  principal: principalCondition.optional(),
  workloads: nonEmpty(workloadName).optional(),
  /** Any of these entity types was detected (count > 0). */
  entities: nonEmpty(entityType).optional(),
  levels: nonEmpty(levelName).optional(),
  /** This level or any higher one. */
  minLevel: levelName.optional(),
  /** Capability of the request (the model's, or the workload's for a virtual model). */
  capabilities: nonEmpty(z.enum(CAPABILITIES)).optional(),
  /** The model id the client asked for, virtual ones included (`perimeter/auto`). */
  models: nonEmpty(z.string().min(1)).optional(),
  regions: nonEmpty(z.string().min(1)).optional(),
});

const effects = z.strictObject({
  /** Intersected with the eligible set; never widens it. */
  allow_tiers: tierList.optional(),
  deny: z.strictObject({ reason: z.string().min(1).max(500) }).optional(),
  /** Tiers that may only receive this request pseudonymized (executed by the protect stage). */
  pseudonymize_for: tierList.optional(),
  require_approval: z.boolean().optional(),
  prefer: z.enum(['latency', 'cost']).optional(),
  /** Backend regions allowed; intersected across matching rules. */
  region_in: nonEmpty(z.string().min(1)).optional(),
});

const rule = z.strictObject({
  id: ruleId,
  description: z.string().max(500).optional(),
  when: condition.default({}),
  /** The rule does not apply when all of these conditions match. */
  unless: condition.optional(),
  effects,
});

export const policySchema = z
  .strictObject({
    matrix: matrix.default(() => cloneMatrix(DEFAULT_MATRIX)),
    /** For a (level, capability) pair no matrix cell covers. */
    default: cell.default(() => [...DEFAULT_FALLBACK]),
    workloads: z.record(workloadName, workload, keyError('must be a workload name (letters, digits, ".", "_", ":" or "-")')).default({}),
    rules: z.array(rule).default([]),
  })
  .superRefine((p, ctx) => {
    checkMatrixRepeats(p.matrix, ['matrix'], ctx);
    checkCellRepeats(p.default, ['default'], ctx);
    for (const [name, w] of Object.entries(p.workloads)) {
      if (w.matrix !== undefined) checkMatrixRepeats(w.matrix, ['workloads', name, 'matrix'], ctx);
    }
    const ids = new Map<string, number>();
    p.rules.forEach((r, i) => {
      const first = ids.get(r.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}" (first at rules[${first}])` });
      else ids.set(r.id, i);
      for (const key of ['when', 'unless'] as const) {
        const c = r[key];
        if (c === undefined) continue;
        if (c.levels !== undefined && c.minLevel !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, key], message: 'give levels or minLevel, not both' });
        }
        c.workloads?.forEach((w, j) => {
          // A typo here would make a deny rule silently never match, so it is an error.
          if (!Object.hasOwn(p.workloads, w)) {
            ctx.addIssue({ code: 'custom', path: ['rules', i, key, 'workloads', j], message: `unknown workload "${w}" (not under workloads)` });
          }
        });
      }
      if (r.unless !== undefined && isEmptyCondition(r.unless)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'unless'], message: 'is empty, so the rule would never apply' });
      }
      const e = r.effects;
      if (
        e.allow_tiers === undefined && e.deny === undefined && e.pseudonymize_for === undefined &&
        e.require_approval === undefined && e.prefer === undefined && e.region_in === undefined
      ) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'effects'], message: 'must have at least one effect' });
      }
      checkCellRepeats(e.allow_tiers, ['rules', i, 'effects', 'allow_tiers'], ctx);
      checkCellRepeats(e.pseudonymize_for, ['rules', i, 'effects', 'pseudonymize_for'], ctx);
    });
  });

export type Policy = z.output<typeof policySchema>;
export type PolicyConfigInput = z.input<typeof policySchema>;
export type PolicyRule = Policy['rules'][number];
export type PolicyCondition = PolicyRule['when'];
export type PolicyWorkload = Policy['workloads'][string];

/** One problem, with a path relative to the policy section. */
export interface PolicyProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * Level names the policy mentions that the classifier does not configure. Schema
 * parsing cannot check them (levels live in another section), so the engine factory
 * calls this; the root config may call it too to report `policy.*` paths up front.
 */
export function policyLevelProblems(policy: Policy, levels: readonly string[]): PolicyProblem[] {
  const known = new Set(levels);
  const problems: PolicyProblem[] = [];
  const unknown = (name: string): string => `unknown level "${name}" (configured levels: ${levels.join(', ')})`;
  const checkMatrix = (m: Record<string, unknown>, path: (string | number)[]): void => {
    for (const name of Object.keys(m)) if (!known.has(name)) problems.push({ path: [...path, name], message: unknown(name) });
  };
  checkMatrix(policy.matrix, ['matrix']);
  for (const [name, w] of Object.entries(policy.workloads)) if (w.matrix !== undefined) checkMatrix(w.matrix, ['workloads', name, 'matrix']);
  policy.rules.forEach((r, i) => {
    for (const key of ['when', 'unless'] as const) {
      const c = r[key];
      if (c === undefined) continue;
      c.levels?.forEach((l, j) => {
        if (!known.has(l)) problems.push({ path: ['rules', i, key, 'levels', j], message: unknown(l) });
      });
      if (c.minLevel !== undefined && !known.has(c.minLevel)) problems.push({ path: ['rules', i, key, 'minLevel'], message: unknown(c.minLevel) });
    }
  });
  return problems;
}

export function isEmptyCondition(c: PolicyCondition): boolean {
  return Object.values(c).every((v) => v === undefined);
}

function checkMatrixRepeats(m: Record<string, MatrixRow>, path: (string | number)[], ctx: z.RefinementCtx): void {
  for (const [level, r] of Object.entries(m)) {
    for (const col of MATRIX_COLUMNS) checkCellRepeats(r[col], [...path, level, col], ctx);
  }
}

function checkCellRepeats(c: MatrixCell | undefined, path: (string | number)[], ctx: z.RefinementCtx): void {
  if (c === undefined || c === 'deny') return;
  c.forEach((t, i) => {
    if (c.indexOf(t) !== i) ctx.addIssue({ code: 'custom', path: [...path, i], message: `repeats tier "${t}"` });
  });
}

function cloneMatrix(m: Readonly<Record<string, MatrixRow>>): Record<string, { [K in MatrixColumn]?: 'deny' | Tier[] }> {
  const out: Record<string, { [K in MatrixColumn]?: 'deny' | Tier[] }> = {};
  for (const [level, r] of Object.entries(m)) {
    const copy: { [K in MatrixColumn]?: 'deny' | Tier[] } = {};
    for (const col of MATRIX_COLUMNS) {
      const c = r[col];
      if (c !== undefined) copy[col] = c === 'deny' ? 'deny' : [...c];
    }
    out[level] = copy;
  }
  return out;
}
