import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssues } from '../../src/config/issues.js';
import {
  DEFAULT_MATRIX,
  PolicyError,
  createPolicyEngine,
  policySchema,
  policyVersion,
  type PolicyConfigInput,
} from '../../src/policy/index.js';
import { LEVELS } from './support.js';

function problems(raw: unknown): string[] {
  const result = policySchema.safeParse(raw, { reportInput: true });
  assert.equal(result.success, false, 'expected the policy to be rejected');
  return formatIssues(result.error?.issues ?? []);
}

function factoryProblems(raw: PolicyConfigInput, levels: readonly string[]): string[] {
  try {
    createPolicyEngine(policySchema.parse(raw), levels);
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    return err.problems;
  }
  assert.fail('expected the engine factory to throw');
}

describe('policy schema', () => {
  it('accepts {} as a complete, fail-closed policy with the documented defaults', () => {
    const p = policySchema.parse({});
    assert.deepEqual(p.matrix, DEFAULT_MATRIX);
    assert.deepEqual(p.default, ['on-prem']);
    assert.deepEqual(p.workloads, {});
    assert.deepEqual(p.rules, []);
  });

  it('gives each parse its own default matrix (no shared mutable defaults)', () => {
    const a = policySchema.parse({});
    const b = policySchema.parse({});
    assert.notEqual(a.matrix, b.matrix);
    assert.notEqual(a.matrix.public, b.matrix.public);
    assert.ok(!Object.isFrozen(a.matrix), 'a caller may deep-freeze its copy without touching the constant');
  });

  it('names the path and reason of structural errors', () => {
    const found = problems({
      matrix: { public: { any: ['on-prem', 'cloud'], huge: ['on-prem'] }, Secret: {} },
      workloads: { 'bad name!': { capability: 'mid' } },
      colour: 'blue',
      rules: [{ id: 'ok', when: { entities: [] }, effects: { prefer: 'speed' } }],
    });
    assert.deepEqual(found.sort(), [
      '(root): unknown key "colour"',
      'matrix.Secret: must be a level name (lowercase, digits, "_" or "-")',
      'matrix.public.any: expected "deny" or a list of tiers from on-prem|private-cloud|public-api',
      'matrix.public: unknown key "huge"',
      'rules[0].effects.prefer: expected one of latency|cost',
      'rules[0].when.entities: must not be empty (omit the condition instead)',
      'workloads.bad name!: must be a workload name (letters, digits, ".", "_", ":" or "-")',
    ]);
  });

  it('checks cross-references: unique rule ids, known workloads, repeated tiers, empty unless, missing effects', () => {
    const found = problems({
      default: ['on-prem', 'on-prem'],
      matrix: { public: { any: ['on-prem', 'public-api', 'on-prem'] } },
      workloads: { triage: { capability: 'mid', matrix: { internal: { mid: ['private-cloud', 'private-cloud'] } } } },
      rules: [
        { id: 'a', effects: { deny: { reason: 'x' } } },
        { id: 'a', when: { workloads: ['triage', 'triag'], levels: ['public'], minLevel: 'public' }, effects: { prefer: 'cost' } },
        { id: 'b', unless: {}, effects: { allow_tiers: ['on-prem', 'on-prem'], pseudonymize_for: ['public-api', 'public-api'] } },
        { id: 'c', effects: {} },
      ],
    });
    assert.deepEqual(found, [
      'matrix.public.any[2]: repeats tier "on-prem"',
      'default[1]: repeats tier "on-prem"',
      'workloads.triage.matrix.internal.mid[1]: repeats tier "private-cloud"',
      'rules[1].id: duplicate rule id "a" (first at rules[0])',
      'rules[1].when: give levels or minLevel, not both',
      'rules[1].when.workloads[1]: unknown workload "triag" (not under workloads)',
      'rules[2].unless: is empty, so the rule would never apply',
      'rules[2].effects.allow_tiers[1]: repeats tier "on-prem"',
      'rules[2].effects.pseudonymize_for[1]: repeats tier "public-api"',
      'rules[3].effects: must have at least one effect',
    ]);
  });

  it('requires a workload capability and rejects an empty tier list (write deny instead)', () => {
    const found = problems({ workloads: { w: {} }, rules: [{ id: 'r', effects: { allow_tiers: [] } }] });
    assert.ok(found.includes('workloads.w.capability: expected one of basic|mid|frontier'), found.join('\n'));
    assert.ok(found.includes('rules[0].effects.allow_tiers: must list at least one tier'), found.join('\n'));
  });

  it('the engine factory names unknown levels with policy.* paths', () => {
    const found = factoryProblems(
      {
        matrix: { public: { any: ['on-prem'] }, secret: { any: ['on-prem'] } },
        workloads: { w: { capability: 'basic', matrix: { topsecret: { any: 'deny' } } } },
        rules: [{ id: 'r', when: { levels: ['public', 'restricted'] }, unless: { minLevel: 'hush' }, effects: { prefer: 'cost' } }],
      },
      LEVELS,
    );
    const known = 'configured levels: public, internal, confidential, regulated';
    assert.deepEqual(found, [
      `policy.matrix.secret: unknown level "secret" (${known})`,
      `policy.workloads.w.matrix.topsecret: unknown level "topsecret" (${known})`,
      `policy.rules[0].when.levels[1]: unknown level "restricted" (${known})`,
      `policy.rules[0].unless.minLevel: unknown level "hush" (${known})`,
    ]);
  });

  it('with renamed levels, the built-in matrix must be replaced (it is keyed by the default names)', () => {
    const found = factoryProblems({}, ['open', 'closed']);
    assert.equal(found.length, 4);
    assert.ok(found[0]?.startsWith('policy.matrix.regulated: unknown level'), found.join('\n'));
    const engine = createPolicyEngine(policySchema.parse({ matrix: { open: { any: ['public-api'] } } }), ['open', 'closed']);
    assert.equal(engine.levels.length, 2);
  });

  it('the engine factory refuses empty or repeated level names', () => {
    assert.deepEqual(factoryProblems({ matrix: {} }, []), ['levels: at least one level is required']);
    assert.deepEqual(factoryProblems({ matrix: {} }, ['a', 'a']), ['levels: level names must be unique']);
  });
});

describe('policy version', () => {
  const raw: PolicyConfigInput = {
    default: 'deny',
    matrix: { regulated: { any: ['on-prem'] }, public: { basic: ['public-api', 'on-prem'] } },
    workloads: { triage: { capability: 'mid', description: 'support triage' } },
    rules: [
      { id: 'hr', when: { principal: { teams: ['hr'] } }, effects: { allow_tiers: ['on-prem'] } },
      { id: 'eu', when: { regions: ['eu'] }, effects: { region_in: ['eu-west'] } },
    ],
  };

  it('is 12 hex characters and independent of key order', () => {
    const reordered: PolicyConfigInput = {
      rules: [
        { effects: { allow_tiers: ['on-prem'] }, when: { principal: { teams: ['hr'] } }, id: 'hr' },
        { effects: { region_in: ['eu-west'] }, id: 'eu', when: { regions: ['eu'] } },
      ],
      workloads: { triage: { description: 'support triage', capability: 'mid' } },
      matrix: { public: { basic: ['public-api', 'on-prem'] }, regulated: { any: ['on-prem'] } },
      default: 'deny',
    };
    const v = policyVersion(policySchema.parse(raw));
    assert.match(v, /^[0-9a-f]{12}$/);
    assert.equal(policyVersion(policySchema.parse(reordered)), v);
  });

  it('counts defaults: {} and the defaults spelled out share a version', () => {
    const spelled = { matrix: structuredClone(DEFAULT_MATRIX) as PolicyConfigInput['matrix'], default: ['on-prem'], workloads: {}, rules: [] };
    assert.equal(policyVersion(policySchema.parse({})), policyVersion(policySchema.parse(spelled as PolicyConfigInput)));
  });

  it('changes when anything meaningful changes, including rule and tier order', () => {
    const base = policyVersion(policySchema.parse(raw));
    const swappedRules = { ...raw, rules: [...(raw.rules ?? [])].reverse() };
    const swappedTiers = { ...raw, matrix: { ...raw.matrix, public: { basic: ['on-prem', 'public-api'] } } } as PolicyConfigInput;
    const otherDefault = { ...raw, default: ['on-prem'] } as PolicyConfigInput;
    for (const changed of [swappedRules, swappedTiers, otherDefault]) assert.notEqual(policyVersion(policySchema.parse(changed)), base);
  });

  it('is the version the engine stamps on every decision', () => {
    const p = policySchema.parse(raw);
    const engine = createPolicyEngine(p, LEVELS);
    assert.equal(engine.version, policyVersion(p));
  });
});
