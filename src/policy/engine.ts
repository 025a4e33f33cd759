import { formatPath } from '../config/issues.js';
import type { Principal } from '../domain/principal.js';
import { CAPABILITIES, TIERS, type Capability, type Tier } from '../domain/tier.js';
import { policyLevelProblems, type MatrixCell, type MatrixRow, type Policy, type PolicyCondition } from './schema.js';
import { policyVersion } from './version.js';

/** What the engine decides on. Built by the pipeline after identity and classification. */
export interface PolicyInput {
  /** The classified level name (one of the configured levels; anything else is treated as the highest). */
  readonly level: string;
  /** Detected entity type → count. Values never reach the engine. */
  readonly entities: Readonly<Record<string, number>>;
  readonly principal: Principal;
  /** The resolved workload (credential-bound wins over header); undefined when none. */
  readonly workload: string | undefined;
  /** The model id the client asked for, virtual ones included. */
  readonly model: string;
  /** Capability of the requested model; undefined for a virtual model (the workload's is used). */
  readonly capability: Capability | undefined;
  /** The caller's region, for rules with `when.regions`. */
  readonly region?: string | undefined;
}

export type Preference = 'latency' | 'cost';

export interface PolicyDeny {
  readonly code: 'request_denied' | 'approval_required';
  /** A rule id, a matrix cell such as `matrix regulated×any`, `default`, or `capability`. */
  readonly rule: string;
  readonly message: string;
}

export interface DecisionEffects {
  /** Tiers that may receive this request only pseudonymized; union over matching rules. */
  readonly pseudonymizeFor: Tier[];
  readonly requireApproval: boolean;
  readonly prefer: Preference | undefined;
}

export interface Decision {
  readonly policyVersion: string;
  /** The effective level: the highest configured one when the input's was unknown. */
  readonly level: string;
  /** Undefined only when a virtual model had no workload to take it from (then denied). */
  readonly capability: Capability | undefined;
  /** The policy workload applied; undefined when none was given or it is not defined in the policy. */
  readonly workload: string | undefined;
  readonly model: string;
  /** The matrix cell the eligible set started from, e.g. `matrix confidential×frontier`. */
  readonly matrixCell: string;
  /** In order of preference. Always empty when `deny` is set. */
  readonly eligibleTiers: Tier[];
  /** Backend regions allowed by `region_in`; undefined when no rule restricts regions. */
  readonly regions: string[] | undefined;
  readonly effects: DecisionEffects;
  /** Ids of every rule that matched, in policy order. */
  readonly matchedRules: string[];
  readonly deny: PolicyDeny | undefined;
  /** For each tier that is not eligible, the cell or rule that first excluded it. */
  readonly excludedBy: Partial<Record<Tier, string>>;
  /** Rules whose `region_in` applied, in order. */
  readonly regionRules: string[];
  /** Human-readable; names levels, capabilities, tiers, regions and rule ids, never data values. */
  readonly reasons: string[];
}

/** Where a model is served: one entry per backend serving it. */
export interface ServedAt {
  readonly tier: Tier;
  readonly region: string;
}

/** Everything the `model_not_permitted_for_data` error needs. */
export interface ModelRejection {
  readonly code: 'model_not_permitted_for_data';
  readonly level: string;
  /** The cell(s) or rule(s) that excluded the model's tiers or regions, comma-separated. */
  readonly rule: string;
  readonly servedTiers: Tier[];
  readonly allowedTiers: Tier[];
  readonly allowedRegions: string[] | undefined;
  /** Levels whose matrix cell (same workload and capability) includes a tier serving the model. Rules are not considered. */
  readonly permittedLevels: string[];
  readonly message: string;
}

export interface PolicyEngine {
  readonly policy: Policy;
  readonly version: string;
  readonly levels: readonly string[];
  decide(input: PolicyInput): Decision;
  /**
   * For a decision that is not denied, says why none of the backends serving the
   * requested model may take the request, or undefined when one may (or the
   * decision is denied: that error wins, and the lead reports it instead).
   */
  modelRejection(decision: Decision, served: readonly ServedAt[]): ModelRejection | undefined;
}

/** A policy that cannot run with the configured levels. Each problem is `policy.path: reason`. */
export class PolicyError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid policy\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyError';
    this.problems = problems;
  }
}

const BIT: Readonly<Record<Tier, number>> = { 'on-prem': 1, 'private-cloud': 2, 'public-api': 4 };
const CAP_INDEX: Readonly<Record<Capability, number>> = { basic: 0, mid: 1, frontier: 2 };
const CAPS = CAPABILITIES.length;

interface Cell {
  readonly id: string;
  readonly order: readonly Tier[];
  readonly mask: number;
  readonly deny: boolean;
  readonly reason: string;
}

interface WorkloadEntry {
  readonly name: string;
  readonly capability: Capability;
  readonly cells: readonly Cell[];
}

type Matcher = (input: PolicyInput, level: number, capability: Capability | undefined) => boolean;

interface CompiledRule {
  readonly id: string;
  readonly when: Matcher;
  readonly unless: Matcher | undefined;
  readonly denyReason: string | undefined;
  readonly allowMask: number | undefined;
  readonly regionIn: readonly string[] | undefined;
  readonly regionSet: ReadonlySet<string> | undefined;
  readonly pseudoMask: number;
  readonly approval: boolean;
  readonly prefer: Preference | undefined;
  /** The effects as text, built once: decide only appends what it removed. */
  readonly text: string;
}

/**
 * Builds the engine for one parsed policy and the classifier's level names (lowest
 * first). Everything that does not depend on the request is precomputed here, so
 * `decide` is a table lookup plus one pass over the rules.
 */
export function createPolicyEngine(policy: Policy, levels: readonly string[]): PolicyEngine {
  const problems: string[] = [];
  if (levels.length === 0) problems.push('levels: at least one level is required');
  if (new Set(levels).size !== levels.length) problems.push('levels: level names must be unique');
  for (const p of policyLevelProblems(policy, levels)) problems.push(`${formatPath(['policy', ...p.path])}: ${p.message}`);
  if (problems.length > 0) throw new PolicyError(problems);

  const version = policyVersion(policy);
  const levelIndex = new Map(levels.map((l, i) => [l, i] as const));
  const top = levels.length - 1;
  const baseCells = buildCells(policy, levels, undefined, undefined);
  const workloads = new Map<string, WorkloadEntry>();
  for (const [name, w] of Object.entries(policy.workloads)) {
    workloads.set(name, { name, capability: w.capability, cells: buildCells(policy, levels, name, w.matrix) });
  }
  const rules = policy.rules.map((r) => compileRule(r, levelIndex));

  function decide(input: PolicyInput): Decision {
    const reasons: string[] = [];
    let li = levelIndex.get(input.level);
    if (li === undefined) {
      li = top;
      // The name is not echoed: it may have come from a caller's label.
      reasons.push(`the level given is not a configured level; treated as ${levels[top]} (fail closed)`);
    }
    const level = levels[li] as string;
    const wl = input.workload === undefined ? undefined : workloads.get(input.workload);
    if (input.workload !== undefined && wl === undefined) {
      reasons.push('the workload given is not defined in the policy; no workload override applies');
    }
    let capability = input.capability;
    let capSource = 'the model';
    if (capability === undefined && wl !== undefined) {
      capability = wl.capability;
      capSource = `workload ${wl.name}`;
    }
    const cell = capability === undefined ? undefined : (wl?.cells ?? baseCells)[li * CAPS + CAP_INDEX[capability]];
    const excludedBy: Partial<Record<Tier, string>> = {};
    let mask = 0;
    if (cell === undefined) {
      reasons.push(`level ${level}; capability unknown: the model is virtual and no policy workload gives one`);
    } else {
      reasons.push(`level ${level}, capability ${capability} (from ${capSource})`, cell.reason);
      mask = cell.mask;
      for (const t of TIERS) if ((mask & BIT[t]) === 0) excludedBy[t] = cell.id;
    }

    const matchedRules: string[] = [];
    const regionRules: string[] = [];
    let denyRule: CompiledRule | undefined;
    let approvalRule: string | undefined;
    let prefer: Preference | undefined;
    let pseudo = 0;
    let regions: string[] | undefined;
    let emptiedBy: string | undefined;
    for (const r of rules) {
      if (!r.when(input, li, capability)) continue;
      if (r.unless !== undefined && r.unless(input, li, capability)) continue;
      matchedRules.push(r.id);
      denyRule ??= r.denyReason === undefined ? undefined : r;
      let removedText = '';
      if (r.allowMask !== undefined) {
        const removed = mask & ~r.allowMask;
        if (removed !== 0) {
          mask &= r.allowMask;
          for (const t of TIERS) if ((removed & BIT[t]) !== 0) excludedBy[t] = r.id;
          removedText = `; removed ${tierNames(removed)}`;
          if (mask === 0) emptiedBy = r.id;
        }
      }
      if (r.regionIn !== undefined) {
        const set = r.regionSet as ReadonlySet<string>;
        regions = regions === undefined ? [...r.regionIn] : regions.filter((x) => set.has(x));
        regionRules.push(r.id);
      }
      pseudo |= r.pseudoMask;
      if (r.approval) approvalRule ??= r.id;
      if (r.prefer !== undefined) prefer = r.prefer;
      reasons.push(`rule ${r.id} matched: ${r.text}${removedText}`);
    }

    let deny: PolicyDeny | undefined;
    if (denyRule !== undefined) {
      deny = { code: 'request_denied', rule: denyRule.id, message: `denied by rule ${denyRule.id}: ${denyRule.denyReason ?? ''}` };
    } else if (cell === undefined) {
      deny = {
        code: 'request_denied',
        rule: 'capability',
        message: 'the requested model is virtual and no workload defined in the policy gives its capability',
      };
    } else if (cell.deny) {
      deny = { code: 'request_denied', rule: cell.id, message: `${level} data may not be sent to any tier at capability ${capability} (${cell.id})` };
    } else if (mask === 0) {
      const by = emptiedBy ?? cell.id;
      deny = {
        code: 'request_denied',
        rule: by,
        message: `no tier is eligible for ${level} data at capability ${capability}: ${cell.id} allows ${cell.order.join(', ')}; rule ${by} leaves none`,
      };
    } else if (regions !== undefined && regions.length === 0) {
      const by = regionRules.join(', ');
      deny = { code: 'request_denied', rule: by, message: `no backend region is allowed: the region_in of rules ${by} have no region in common` };
    } else if (approvalRule !== undefined) {
      deny = { code: 'approval_required', rule: approvalRule, message: `rule ${approvalRule} requires approval for ${level} data` };
    }

    let eligibleTiers: Tier[];
    if (deny !== undefined) {
      // Denied means nothing is routable, even if a caller forgets to check `deny`.
      if (mask !== 0) reasons.push(`tiers otherwise eligible: ${tierNames(mask)}`);
      for (const t of TIERS) if ((mask & BIT[t]) !== 0 || excludedBy[t] === undefined) excludedBy[t] = deny.rule;
      reasons.push(`${deny.code === 'approval_required' ? 'approval required' : 'denied'} by ${deny.rule}`);
      eligibleTiers = [];
    } else {
      eligibleTiers = (cell as Cell).order.filter((t) => (mask & BIT[t]) !== 0);
      reasons.push(`eligible tiers: ${eligibleTiers.join(', ')}${regions === undefined ? '' : `; regions: ${regions.join(', ')}`}`);
    }

    return {
      policyVersion: version,
      level,
      capability,
      workload: wl?.name,
      model: input.model,
      matrixCell: cell?.id ?? 'capability',
      eligibleTiers,
      regions,
      effects: { pseudonymizeFor: TIERS.filter((t) => (pseudo & BIT[t]) !== 0), requireApproval: approvalRule !== undefined, prefer },
      matchedRules,
      deny,
      excludedBy,
      regionRules,
      reasons,
    };
  }

  function modelRejection(decision: Decision, served: readonly ServedAt[]): ModelRejection | undefined {
    if (decision.deny !== undefined || served.length === 0) return undefined;
    const eligible = decision.eligibleTiers;
    const regionOk = (r: string): boolean => decision.regions === undefined || decision.regions.includes(r);
    if (served.some((s) => eligible.includes(s.tier) && regionOk(s.region))) return undefined;

    const servedTiers = TIERS.filter((t) => served.some((s) => s.tier === t));
    const inEligibleTier = served.filter((s) => eligible.includes(s.tier));
    let rule: string;
    let detail: string;
    if (inEligibleTier.length === 0) {
      rule = unique(servedTiers.map((t) => decision.excludedBy[t] ?? decision.matrixCell)).join(', ');
      detail = `model ${decision.model} is served only in ${servedTiers.join(', ')}; allowed tiers: ${eligible.join(', ')}`;
    } else {
      rule = decision.regionRules.join(', ');
      const at = unique(inEligibleTier.map((s) => s.region));
      detail =
        `model ${decision.model} is served in ${unique(inEligibleTier.map((s) => s.tier)).join(', ')} only in ${at.join(', ')}; ` +
        `allowed regions: ${(decision.regions ?? []).join(', ')}`;
    }

    const permittedLevels: string[] = [];
    const capability = decision.capability;
    if (capability !== undefined) {
      let servedMask = 0;
      for (const t of servedTiers) servedMask |= BIT[t];
      const cells = (decision.workload === undefined ? undefined : workloads.get(decision.workload)?.cells) ?? baseCells;
      levels.forEach((l, i) => {
        const c = cells[i * CAPS + CAP_INDEX[capability]];
        if (c !== undefined && (c.mask & servedMask) !== 0) permittedLevels.push(l);
      });
    }
    // Only when tiers were the problem: for a region problem the level is not what blocks it.
    const permitted =
      inEligibleTier.length === 0 && permittedLevels.length > 0 ? `; the matrix permits it for ${permittedLevels.join(', ')} data` : '';
    return {
      code: 'model_not_permitted_for_data',
      level: decision.level,
      rule,
      servedTiers,
      allowedTiers: [...eligible],
      allowedRegions: decision.regions === undefined ? undefined : [...decision.regions],
      permittedLevels,
      message: `data is ${decision.level} (rule ${rule}); ${detail}${permitted}`,
    };
  }

  return Object.freeze({ policy, version, levels: Object.freeze([...levels]), decide, modelRejection });
}

/** Cells for every (level, capability), index `level * CAPS + capability`. A workload's cells win over the global ones. */
function buildCells(
  policy: Policy,
  levels: readonly string[],
  workload: string | undefined,
  override: Readonly<Record<string, MatrixRow>> | undefined,
): Cell[] {
  const cells: Cell[] = [];
  for (const level of levels) {
    for (const cap of CAPABILITIES) {
      const found =
        (override === undefined ? undefined : lookup(override, level, cap, `workload ${workload ?? ''}`)) ??
        lookup(policy.matrix, level, cap, 'matrix');
      if (found !== undefined) {
        cells.push(makeCell(found.id, found.cell, `${found.id} → ${describeCell(found.cell)}`));
      } else {
        cells.push(makeCell('default', policy.default, `default: ${level}×${cap} is not in the matrix → ${describeCell(policy.default)}`));
      }
    }
  }
  return cells;
}

function lookup(m: Readonly<Record<string, MatrixRow>>, level: string, cap: Capability, prefix: string): { id: string; cell: MatrixCell } | undefined {
  if (!Object.hasOwn(m, level)) return undefined;
  const row = m[level] as MatrixRow;
  // The specific capability column wins over `any` in the same row.
  for (const col of [cap, 'any'] as const) {
    const cell = row[col];
    if (cell !== undefined) return { id: `${prefix} ${level}×${col}`, cell };
  }
  return undefined;
}

function makeCell(id: string, cell: MatrixCell, reason: string): Cell {
  if (cell === 'deny') return Object.freeze({ id, order: Object.freeze([]), mask: 0, deny: true, reason });
  return Object.freeze({ id, order: Object.freeze([...cell]), mask: maskOf(cell), deny: false, reason });
}

function describeCell(cell: MatrixCell): string {
  return cell === 'deny' ? 'deny' : `[${cell.join(', ')}]`;
}

function compileRule(r: Policy['rules'][number], levelIndex: ReadonlyMap<string, number>): CompiledRule {
  const e = r.effects;
  const text: string[] = [];
  if (e.deny !== undefined) text.push('deny');
  if (e.allow_tiers !== undefined) text.push(`allow_tiers [${e.allow_tiers.join(', ')}]`);
  if (e.region_in !== undefined) text.push(`region_in [${e.region_in.join(', ')}]`);
  if (e.pseudonymize_for !== undefined) text.push(`pseudonymize_for [${e.pseudonymize_for.join(', ')}]`);
  if (e.require_approval === true) text.push('require_approval');
  if (e.prefer !== undefined) text.push(`prefer ${e.prefer}`);
  if (text.length === 0) text.push('no effect');
  return Object.freeze({
    id: r.id,
    when: compileCondition(r.when, levelIndex),
    unless: r.unless === undefined ? undefined : compileCondition(r.unless, levelIndex),
    denyReason: e.deny?.reason,
    allowMask: e.allow_tiers === undefined ? undefined : maskOf(e.allow_tiers),
    regionIn: e.region_in === undefined ? undefined : Object.freeze([...e.region_in]),
    regionSet: e.region_in === undefined ? undefined : new Set(e.region_in),
    pseudoMask: e.pseudonymize_for === undefined ? 0 : maskOf(e.pseudonymize_for),
    approval: e.require_approval === true,
    prefer: e.prefer,
    text: text.join(', '),
  });
}

/** One closure per present condition; the rule matches when all of them do. */
function compileCondition(c: PolicyCondition, levelIndex: ReadonlyMap<string, number>): Matcher {
  const checks: Matcher[] = [];
  const p = c.principal;
  if (p !== undefined) {
    if (p.ids !== undefined) {
      const s = new Set(p.ids);
      checks.push((i) => s.has(i.principal.id));
    }
    if (p.kinds !== undefined) {
      const s = new Set<string>(p.kinds);
      checks.push((i) => s.has(i.principal.kind));
    }
    if (p.teams !== undefined) {
      const s = new Set(p.teams);
      checks.push((i) => i.principal.team !== undefined && s.has(i.principal.team));
    }
    if (p.roles !== undefined) {
      const s = new Set(p.roles);
      checks.push((i) => i.principal.roles.some((x) => s.has(x)));
    }
    if (p.groups !== undefined) {
      const s = new Set(p.groups);
      checks.push((i) => i.principal.groups.some((x) => s.has(x)));
    }
    if (p.attributes !== undefined) {
      const wanted = Object.entries(p.attributes).map(([k, v]) => [k, new Set(v)] as const);
      checks.push((i) => {
        const attrs = i.principal.attributes;
        for (const [k, s] of wanted) {
          // hasOwn: an attribute named like an Object.prototype member must not match by accident.
          if (!Object.hasOwn(attrs, k) || !s.has(attrs[k] as string)) return false;
        }
        return true;
      });
    }
  }
  if (c.workloads !== undefined) {
    const s = new Set(c.workloads);
    checks.push((i) => i.workload !== undefined && s.has(i.workload));
  }
  if (c.entities !== undefined) {
    const list = [...c.entities];
    checks.push((i) => list.some((e) => Object.hasOwn(i.entities, e) && (i.entities[e] as number) > 0));
  }
  if (c.levels !== undefined) {
    const s = new Set(c.levels.map((l) => levelIndex.get(l) as number));
    checks.push((_i, l) => s.has(l));
  }
  if (c.minLevel !== undefined) {
    const min = levelIndex.get(c.minLevel) as number;
    checks.push((_i, l) => l >= min);
  }
  if (c.capabilities !== undefined) {
    const s = new Set<string>(c.capabilities);
    checks.push((_i, _l, cap) => cap !== undefined && s.has(cap));
  }
  if (c.models !== undefined) {
    const s = new Set(c.models);
    checks.push((i) => s.has(i.model));
  }
  if (c.regions !== undefined) {
    const s = new Set(c.regions);
    checks.push((i) => i.region !== undefined && s.has(i.region));
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0] as Matcher;
  return (i, l, cap) => {
    for (const check of checks) if (!check(i, l, cap)) return false;
    return true;
  };
}

function maskOf(tiers: readonly Tier[]): number {
  let m = 0;
  for (const t of tiers) m |= BIT[t];
  return m;
}

function tierNames(mask: number): string {
  return TIERS.filter((t) => (mask & BIT[t]) !== 0).join(', ');
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
