import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Principal } from '../../src/domain/principal.js';
import { CAPABILITIES, TIERS, type Capability, type Tier } from '../../src/domain/tier.js';
import {
  createPolicyEngine,
  policySchema,
  policyVersion,
  type Decision,
  type MatrixCell,
  type MatrixRow,
  type Policy,
  type PolicyCondition,
  type PolicyConfigInput,
  type PolicyInput,
} from '../../src/policy/index.js';
import { LEVELS } from './support.js';

/*
 * Random policies and requests. Every generated policy is schema-valid, so the
 * properties speak about the engine, not about the parser.
 */

const TOP = LEVELS[LEVELS.length - 1] as string;
const WORKLOADS = ['w1', 'w2'] as const;
const TEAMS = ['hr', 'eng', 'sales'];
const ROLES = ['admin', 'analyst', 'viewer'];
const GROUPS = ['eu-staff', 'contractors'];
const ENTITIES = ['US_SSN', 'EMAIL_ADDRESS', 'PERSON', 'SECRET'];
const MODELS = ['gpt-4o', 'llama', 'perimeter/auto'];
const REGIONS = ['eu-west', 'eu-central', 'us-east'];
// Marker values: they must never show up in reasons.
const MARK = 'zzmark';

const some = <T>(xs: readonly T[]): fc.Arbitrary<T[]> => fc.subarray([...xs], { minLength: 1 });
const tiers = fc.shuffledSubarray([...TIERS], { minLength: 1 });
type Cell = Tier[] | 'deny';
const cell: fc.Arbitrary<Cell> = fc.oneof({ weight: 6, arbitrary: tiers }, { weight: 1, arbitrary: fc.constant('deny' as const) });
const row: fc.Arbitrary<Partial<Record<'basic' | 'mid' | 'frontier' | 'any', Cell>>> = fc.record({ basic: cell, mid: cell, frontier: cell, any: cell }, { requiredKeys: [] });
const matrix = fc.dictionary(fc.constantFrom(...LEVELS), row, { maxKeys: 4 });
const capability = fc.constantFrom(...CAPABILITIES);

const condition = fc
  .record(
    {
      principal: fc.record(
        {
          teams: some(TEAMS),
          roles: some(ROLES),
          groups: some(GROUPS),
          kinds: some(['anonymous', 'api_key', 'jwt'] as const),
          attributes: fc.dictionary(fc.constantFrom('clearance', 'dept'), some([`${MARK}-a`, `${MARK}-b`]), { minKeys: 1, maxKeys: 2 }),
        },
        { requiredKeys: [] },
      ),
      workloads: some(WORKLOADS),
      entities: some(ENTITIES),
      levels: some(LEVELS),
      minLevel: fc.constantFrom(...LEVELS),
      capabilities: some(CAPABILITIES),
      models: some(MODELS),
      regions: some(['eu', 'us']),
    },
    { requiredKeys: [] },
  )
  .map((c) => {
    // levels and minLevel are exclusive; keep one.
    if (c.levels !== undefined && c.minLevel !== undefined) delete c.minLevel;
    return c;
  });

const effects = fc
  .record(
    {
      allow_tiers: tiers,
      deny: fc.constant({ reason: 'not allowed' }),
      pseudonymize_for: tiers,
      require_approval: fc.boolean(),
      prefer: fc.constantFrom('latency' as const, 'cost' as const),
      region_in: some(REGIONS),
    },
    { requiredKeys: [] },
  )
  .filter((e) => Object.keys(e).length > 0);

const ruleBody = fc.record({ when: condition, unless: fc.option(condition.filter((c) => Object.keys(c).length > 0), { nil: undefined }), effects });
type RuleBody = typeof ruleBody extends fc.Arbitrary<infer T> ? T : never;

const withIds = (bodies: RuleBody[], prefix = 'r'): NonNullable<PolicyConfigInput['rules']> =>
  bodies.map((b, i) => ({ id: `${prefix}${i}`, ...b }));

const rawPolicy: fc.Arbitrary<PolicyConfigInput> = fc.record({
  matrix,
  default: cell,
  workloads: fc.record({
    w1: fc.record({ capability, matrix: matrix }),
    w2: fc.record({ capability }),
  }),
  rules: fc.array(ruleBody, { maxLength: 6 }).map((b) => withIds(b)),
});

const principalArb: fc.Arbitrary<Principal> = fc.record({
  id: fc.constantFrom(`${MARK}-alice`, `${MARK}-bob`),
  kind: fc.constantFrom('anonymous' as const, 'api_key' as const, 'jwt' as const),
  team: fc.option(fc.constantFrom(...TEAMS), { nil: undefined }),
  roles: fc.subarray(ROLES),
  groups: fc.subarray(GROUPS),
  workload: fc.constant(undefined),
  attributes: fc.dictionary(fc.constantFrom('clearance', 'dept'), fc.constantFrom(`${MARK}-a`, `${MARK}-b`, `${MARK}-c`)),
});

const inputArb: fc.Arbitrary<PolicyInput> = fc.record({
  level: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...LEVELS) }, { weight: 1, arbitrary: fc.constant(`${MARK}-level`) }),
  entities: fc.dictionary(fc.constantFrom(...ENTITIES), fc.nat(3)),
  principal: principalArb,
  workload: fc.option(fc.constantFrom('w1', 'w2', `${MARK}-workload`), { nil: undefined }),
  model: fc.constantFrom(...MODELS),
  capability: fc.option(capability, { nil: undefined }),
  region: fc.option(fc.constantFrom('eu', 'us'), { nil: undefined }),
});

const parse = (raw: PolicyConfigInput): Policy => policySchema.parse(raw);
const RUNS = { numRuns: 400 };

// ---- A deliberately naive reference implementation of the documented precedence. ----

function levelIndex(level: string): number {
  const i = (LEVELS as readonly string[]).indexOf(level);
  return i < 0 ? LEVELS.length - 1 : i;
}

function refCapability(p: Policy, i: PolicyInput): Capability | undefined {
  if (i.capability !== undefined) return i.capability;
  return i.workload !== undefined && Object.hasOwn(p.workloads, i.workload) ? p.workloads[i.workload]?.capability : undefined;
}

function refCell(p: Policy, i: PolicyInput): MatrixCell | undefined {
  const cap = refCapability(p, i);
  if (cap === undefined) return undefined;
  const level = LEVELS[levelIndex(i.level)] as string;
  const pick = (m: Record<string, MatrixRow> | undefined): MatrixCell | undefined => {
    if (m === undefined || !Object.hasOwn(m, level)) return undefined;
    return m[level]?.[cap] ?? m[level]?.any;
  };
  const wl = i.workload !== undefined && Object.hasOwn(p.workloads, i.workload) ? p.workloads[i.workload] : undefined;
  return pick(wl?.matrix) ?? pick(p.matrix) ?? p.default;
}

function refMatches(c: PolicyCondition, i: PolicyInput, p: Policy): boolean {
  const pr = c.principal;
  const li = levelIndex(i.level);
  const cap = refCapability(p, i);
  if (pr?.ids && !pr.ids.includes(i.principal.id)) return false;
  if (pr?.kinds && !pr.kinds.includes(i.principal.kind)) return false;
  if (pr?.teams && !(i.principal.team !== undefined && pr.teams.includes(i.principal.team))) return false;
  if (pr?.roles && !pr.roles.some((r) => i.principal.roles.includes(r))) return false;
  if (pr?.groups && !pr.groups.some((g) => i.principal.groups.includes(g))) return false;
  if (pr?.attributes) {
    for (const [k, vs] of Object.entries(pr.attributes)) {
      const v = Object.hasOwn(i.principal.attributes, k) ? i.principal.attributes[k] : undefined;
      if (v === undefined || !vs.includes(v)) return false;
    }
  }
  if (c.workloads && !(i.workload !== undefined && c.workloads.includes(i.workload))) return false;
  if (c.entities && !c.entities.some((e) => (i.entities[e] ?? 0) > 0)) return false;
  if (c.levels && !c.levels.map(levelIndex).includes(li)) return false;
  if (c.minLevel !== undefined && li < levelIndex(c.minLevel)) return false;
  if (c.capabilities && !(cap !== undefined && c.capabilities.includes(cap))) return false;
  if (c.models && !c.models.includes(i.model)) return false;
  if (c.regions && !(i.region !== undefined && c.regions.includes(i.region))) return false;
  return true;
}

interface Reference {
  eligible: Tier[];
  denyCode: string | undefined;
  matched: string[];
  regions: string[] | undefined;
  pseudonymizeFor: Tier[];
  prefer: string | undefined;
}

function reference(p: Policy, i: PolicyInput): Reference {
  const c = refCell(p, i);
  let set: Tier[] = c === undefined || c === 'deny' ? [] : [...c];
  const matched = p.rules.filter((r) => refMatches(r.when, i, p) && !(r.unless !== undefined && refMatches(r.unless, i, p)));
  let regions: string[] | undefined;
  let pseudo: Tier[] = [];
  let prefer: string | undefined;
  for (const r of matched) {
    const allow = r.effects.allow_tiers;
    if (allow) set = set.filter((t) => allow.includes(t));
    const rin = r.effects.region_in;
    if (rin) regions = regions === undefined ? [...rin] : regions.filter((x) => rin.includes(x));
    if (r.effects.pseudonymize_for) pseudo = [...pseudo, ...r.effects.pseudonymize_for];
    if (r.effects.prefer) prefer = r.effects.prefer;
  }
  let denyCode: string | undefined;
  if (matched.some((r) => r.effects.deny) || c === undefined || c === 'deny' || set.length === 0 || regions?.length === 0) denyCode = 'request_denied';
  else if (matched.some((r) => r.effects.require_approval === true)) denyCode = 'approval_required';
  return {
    eligible: denyCode === undefined ? set : [],
    denyCode,
    matched: matched.map((r) => r.id),
    regions,
    pseudonymizeFor: TIERS.filter((t) => pseudo.includes(t)),
    prefer,
  };
}

const isSubsequence = (xs: readonly Tier[], of: readonly Tier[]): boolean => {
  let j = 0;
  for (const x of xs) {
    while (j < of.length && of[j] !== x) j++;
    if (j === of.length) return false;
    j++;
  }
  return true;
};

describe('policy engine: properties', () => {
  it('agrees with a naive reference implementation of the documented precedence', () => {
    fc.assert(
      fc.property(rawPolicy, inputArb, (raw, i) => {
        const p = parse(raw);
        const d = createPolicyEngine(p, LEVELS).decide(i);
        const ref = reference(p, i);
        assert.deepEqual(d.eligibleTiers, ref.eligible);
        assert.equal(d.deny?.code, ref.denyCode);
        assert.deepEqual(d.matchedRules, ref.matched);
        assert.deepEqual(d.regions, ref.regions);
        assert.deepEqual(d.effects.pseudonymizeFor, ref.pseudonymizeFor);
        assert.equal(d.effects.prefer, ref.prefer);
      }),
      RUNS,
    );
  });

  it('the eligible set is always an ordered subset of the matrix cell for the level and capability', () => {
    fc.assert(
      fc.property(rawPolicy, inputArb, (raw, i) => {
        const p = parse(raw);
        const d = createPolicyEngine(p, LEVELS).decide(i);
        const c = refCell(p, i);
        const allowed = c === undefined || c === 'deny' ? [] : c;
        assert.ok(isSubsequence(d.eligibleTiers, allowed), `${d.eligibleTiers.join(',')} not within ${allowed.join(',')}`);
        for (const t of TIERS) if (!d.eligibleTiers.includes(t)) assert.ok(d.excludedBy[t] !== undefined, `no reason for excluding ${t}`);
      }),
      RUNS,
    );
  });

  it('top-level (and unknown-level) data never gets a tier the policy does not list for it', () => {
    fc.assert(
      fc.property(rawPolicy, inputArb, (raw, i) => {
        const p = parse(raw);
        const d = createPolicyEngine(p, LEVELS).decide({ ...i, level: i.level === `${MARK}-level` ? i.level : TOP });
        assert.equal(d.level, TOP);
        const listed = new Set<Tier>();
        const add = (c: MatrixCell | undefined): void => {
          if (c !== undefined && c !== 'deny') for (const t of c) listed.add(t);
        };
        for (const m of [p.matrix, ...Object.values(p.workloads).map((w) => w.matrix)]) {
          const r = m?.[TOP];
          if (r) for (const col of ['basic', 'mid', 'frontier', 'any'] as const) add(r[col]);
        }
        add(p.default);
        for (const t of d.eligibleTiers) assert.ok(listed.has(t), `${t} is not listed for ${TOP}`);
      }),
      RUNS,
    );
  });

  it('with the default matrix, no set of rules gets regulated data off on-prem', () => {
    fc.assert(
      fc.property(fc.array(ruleBody, { maxLength: 6 }), inputArb, (bodies, i) => {
        const p = parse({ workloads: { w1: { capability: 'frontier' }, w2: { capability: 'basic' } }, rules: withIds(bodies) });
        const d = createPolicyEngine(p, LEVELS).decide({ ...i, level: 'regulated' });
        assert.ok(d.eligibleTiers.every((t) => t === 'on-prem'), d.eligibleTiers.join(','));
      }),
      RUNS,
    );
  });

  it('adding a rule anywhere never widens the eligible set or the regions, and never lifts a deny', () => {
    fc.assert(
      fc.property(rawPolicy, ruleBody, fc.nat(), inputArb, (raw, extra, at, i) => {
        const before = createPolicyEngine(parse(raw), LEVELS).decide(i);
        const rules = [...(raw.rules ?? [])];
        rules.splice(at % (rules.length + 1), 0, { id: 'added', ...extra });
        const after = createPolicyEngine(parse({ ...raw, rules }), LEVELS).decide(i);
        assert.ok(after.eligibleTiers.every((t) => before.eligibleTiers.includes(t)));
        if (before.deny !== undefined) assert.notEqual(after.deny, undefined);
        if (before.regions !== undefined) assert.ok(after.regions !== undefined && after.regions.every((r) => before.regions?.includes(r)));
      }),
      RUNS,
    );
  });

  it('a deny always comes with an empty set, a rule and a reason; an empty set is always a deny', () => {
    fc.assert(
      fc.property(rawPolicy, inputArb, (raw, i) => {
        const d: Decision = createPolicyEngine(parse(raw), LEVELS).decide(i);
        if (d.deny !== undefined) {
          assert.deepEqual(d.eligibleTiers, []);
          assert.ok(d.deny.rule.length > 0 && d.deny.message.length > 0);
          assert.ok(d.reasons.some((r) => r.includes(d.deny?.rule ?? '\u0000')));
        }
        if (d.eligibleTiers.length === 0) assert.notEqual(d.deny, undefined);
        if (d.regions !== undefined && d.regions.length === 0) assert.notEqual(d.deny, undefined);
      }),
      RUNS,
    );
  });

  it('reasons and messages never carry principal ids, attribute values, or unknown level and workload names', () => {
    fc.assert(
      fc.property(rawPolicy, inputArb, (raw, i) => {
        const d = createPolicyEngine(parse(raw), LEVELS).decide(i);
        const text = [...d.reasons, d.deny?.message ?? '', d.level, d.workload ?? '', d.matrixCell].join('\n');
        assert.ok(!text.includes(MARK), text);
      }),
      RUNS,
    );
  });

  it('modelRejection is undefined exactly when some serving backend is eligible (or the request is denied)', () => {
    const served = fc.array(fc.record({ tier: fc.constantFrom(...TIERS), region: fc.constantFrom(...REGIONS) }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(rawPolicy, inputArb, served, (raw, i, s) => {
        const engine = createPolicyEngine(parse(raw), LEVELS);
        const d = engine.decide(i);
        const r = engine.modelRejection(d, s);
        const ok = s.some((x) => d.eligibleTiers.includes(x.tier) && (d.regions === undefined || d.regions.includes(x.region)));
        assert.equal(r === undefined, d.deny !== undefined || ok);
        if (r !== undefined) {
          assert.ok(r.rule.length > 0 && r.message.startsWith(`data is ${d.level} (rule ${r.rule}); `), r.message);
        }
      }),
      RUNS,
    );
  });

  it('decide is deterministic and does not mutate its input', () => {
    fc.assert(
      fc.property(rawPolicy, inputArb, (raw, i) => {
        const engine = createPolicyEngine(parse(raw), LEVELS);
        // JSON, not structuredClone: fast-check builds some objects without a prototype.
        const snapshot = JSON.stringify(i);
        assert.deepEqual(engine.decide(i), engine.decide(i));
        assert.equal(JSON.stringify(i), snapshot);
      }),
      RUNS,
    );
  });

  it('the version depends on content, not key order', () => {
    const reverseKeys = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reverseKeys);
      if (v === null || typeof v !== 'object') return v;
      return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
    };
    fc.assert(
      fc.property(rawPolicy, (raw) => {
        assert.equal(policyVersion(parse(reverseKeys(raw) as PolicyConfigInput)), policyVersion(parse(raw)));
      }),
      RUNS,
    );
  });
});
