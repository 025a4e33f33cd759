import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Capability, Tier } from '../../src/domain/tier.js';
import type { PolicyConfigInput } from '../../src/policy/index.js';
import { engineFor, input, principal } from './support.js';

describe('policy engine: the default matrix', () => {
  const engine = engineFor({});
  const table: [string, Capability, Tier[], string][] = [
    ['regulated', 'basic', ['on-prem'], 'matrix regulated×any'],
    ['regulated', 'mid', ['on-prem'], 'matrix regulated×any'],
    ['regulated', 'frontier', ['on-prem'], 'matrix regulated×any'],
    ['confidential', 'basic', ['on-prem', 'private-cloud'], 'matrix confidential×basic'],
    ['confidential', 'mid', ['on-prem', 'private-cloud'], 'matrix confidential×mid'],
    ['confidential', 'frontier', ['private-cloud'], 'matrix confidential×frontier'],
    ['internal', 'basic', ['on-prem', 'private-cloud'], 'matrix internal×any'],
    ['internal', 'mid', ['on-prem', 'private-cloud'], 'matrix internal×any'],
    ['internal', 'frontier', ['on-prem', 'private-cloud'], 'matrix internal×any'],
    ['public', 'basic', ['on-prem', 'public-api', 'private-cloud'], 'matrix public×basic'],
    ['public', 'mid', ['public-api', 'private-cloud', 'on-prem'], 'matrix public×mid'],
    ['public', 'frontier', ['public-api', 'private-cloud', 'on-prem'], 'matrix public×frontier'],
  ];
  for (const [level, capability, tiers, cell] of table) {
    it(`${level}×${capability} → ${tiers.join(', ')}`, () => {
      const d = engine.decide(input({ level, capability }));
      assert.deepEqual(d.eligibleTiers, tiers);
      assert.equal(d.matrixCell, cell);
      assert.equal(d.deny, undefined);
      assert.deepEqual(d.matchedRules, []);
      assert.equal(d.policyVersion, engine.version);
      for (const t of ['on-prem', 'private-cloud', 'public-api'] as const) {
        assert.equal(d.excludedBy[t], tiers.includes(t) ? undefined : cell);
      }
    });
  }
});

describe('policy engine: fail-closed defaults', () => {
  it('an unknown level is treated as the highest, without echoing the name', () => {
    const d = engineFor({}).decide(input({ level: 'top-secret-ish', capability: 'frontier' }));
    assert.equal(d.level, 'regulated');
    assert.deepEqual(d.eligibleTiers, ['on-prem']);
    assert.ok(d.reasons.includes('the level given is not a configured level; treated as regulated (fail closed)'));
    assert.ok(!d.reasons.join('\n').includes('top-secret-ish'));
  });

  it('a pair the matrix does not cover gets `default` ([on-prem] unless configured)', () => {
    const d = engineFor({ matrix: { public: { basic: ['public-api'] } } }).decide(input({ level: 'public', capability: 'mid' }));
    assert.deepEqual(d.eligibleTiers, ['on-prem']);
    assert.equal(d.matrixCell, 'default');
    assert.ok(d.reasons.includes('default: public×mid is not in the matrix → [on-prem]'));
  });

  it('default: deny denies uncovered pairs', () => {
    const d = engineFor({ matrix: {}, default: 'deny' }).decide(input({ level: 'internal' }));
    assert.deepEqual(d.eligibleTiers, []);
    assert.deepEqual(d.deny, { code: 'request_denied', rule: 'default', message: 'internal data may not be sent to any tier at capability basic (default)' });
  });

  it('a matrix cell may be deny', () => {
    const d = engineFor({ matrix: { regulated: { frontier: 'deny', any: ['on-prem'] } } }).decide(input({ level: 'regulated', capability: 'frontier' }));
    assert.equal(d.deny?.rule, 'matrix regulated×frontier');
    assert.deepEqual(d.eligibleTiers, []);
  });

  it('a specific capability column wins over `any` in the same row', () => {
    const e = engineFor({ matrix: { internal: { any: ['on-prem'], frontier: ['private-cloud'] } } });
    assert.deepEqual(e.decide(input({ level: 'internal', capability: 'frontier' })).eligibleTiers, ['private-cloud']);
    assert.deepEqual(e.decide(input({ level: 'internal', capability: 'mid' })).eligibleTiers, ['on-prem']);
  });

  it('a virtual model with no policy workload is denied (capability unknown)', () => {
    const e = engineFor({ workloads: { triage: { capability: 'mid' } } });
    for (const workload of [undefined, 'not-a-workload']) {
      const d = e.decide(input({ capability: undefined, workload, model: 'perimeter/auto' }));
      assert.equal(d.capability, undefined);
      assert.equal(d.deny?.code, 'request_denied');
      assert.equal(d.deny?.rule, 'capability');
      assert.deepEqual(d.eligibleTiers, []);
      assert.ok(!d.reasons.join('\n').includes('not-a-workload'), 'client-supplied workload names are not echoed');
    }
  });
});

describe('policy engine: workloads', () => {
  const engine = engineFor({
    workloads: {
      research: { capability: 'frontier', matrix: { confidential: { frontier: ['on-prem'] }, public: { any: ['on-prem'] } } },
      triage: { capability: 'mid' },
    },
  });

  it('a virtual model takes the workload capability', () => {
    const d = engine.decide(input({ level: 'confidential', capability: undefined, workload: 'triage', model: 'perimeter/auto' }));
    assert.equal(d.capability, 'mid');
    assert.equal(d.workload, 'triage');
    assert.deepEqual(d.eligibleTiers, ['on-prem', 'private-cloud']);
    assert.ok(d.reasons.includes('level confidential, capability mid (from workload triage)'));
  });

  it('a concrete model keeps its own capability even inside a workload', () => {
    const d = engine.decide(input({ level: 'confidential', capability: 'basic', workload: 'research' }));
    assert.equal(d.capability, 'basic');
    assert.equal(d.matrixCell, 'matrix confidential×basic');
  });

  it('workload cells override the global matrix; other cells fall through to it', () => {
    const overridden = engine.decide(input({ level: 'confidential', capability: 'frontier', workload: 'research' }));
    assert.deepEqual(overridden.eligibleTiers, ['on-prem']);
    assert.equal(overridden.matrixCell, 'workload research confidential×frontier');
    const fallsThrough = engine.decide(input({ level: 'internal', capability: 'frontier', workload: 'research' }));
    assert.equal(fallsThrough.matrixCell, 'matrix internal×any');
    const workloadAny = engine.decide(input({ level: 'public', capability: 'basic', workload: 'research' }));
    assert.equal(workloadAny.matrixCell, 'workload research public×any', 'the workload row wins, even its any column');
    const noWorkload = engine.decide(input({ level: 'confidential', capability: 'frontier' }));
    assert.deepEqual(noWorkload.eligibleTiers, ['private-cloud']);
  });
});

describe('policy engine: effects and precedence', () => {
  const base = (rules: PolicyConfigInput['rules']): ReturnType<typeof engineFor> => engineFor({ rules });

  it('allow_tiers intersects, keeping the matrix order', () => {
    const d = base([{ id: 'no-public', effects: { allow_tiers: ['private-cloud', 'on-prem'] } }]).decide(input({ level: 'public', capability: 'mid' }));
    assert.deepEqual(d.eligibleTiers, ['private-cloud', 'on-prem']);
    assert.equal(d.excludedBy['public-api'], 'no-public');
    assert.ok(d.reasons.includes('rule no-public matched: allow_tiers [private-cloud, on-prem]; removed public-api'));
  });

  it('allow_tiers never widens the matrix', () => {
    const d = base([{ id: 'wide', effects: { allow_tiers: ['on-prem', 'public-api'] } }]).decide(input({ level: 'regulated' }));
    assert.deepEqual(d.eligibleTiers, ['on-prem']);
    assert.equal(d.excludedBy['public-api'], 'matrix regulated×any');
  });

  it('several allow_tiers intersect; an empty result is a deny naming the rule that emptied it', () => {
    const d = base([
      { id: 'a', effects: { allow_tiers: ['on-prem', 'private-cloud'] } },
      { id: 'b', effects: { allow_tiers: ['public-api', 'private-cloud'] } },
      { id: 'c', effects: { allow_tiers: ['on-prem'] } },
    ]).decide(input({ level: 'public', capability: 'mid' }));
    assert.deepEqual(d.eligibleTiers, []);
    assert.deepEqual(d.matchedRules, ['a', 'b', 'c']);
    assert.deepEqual(d.deny, {
      code: 'request_denied',
      rule: 'c',
      message: 'no tier is eligible for public data at capability mid: matrix public×mid allows public-api, private-cloud, on-prem; rule c leaves none',
    });
  });

  it('deny wins over everything, and the first matching deny is named', () => {
    const d = base([
      { id: 'approve', effects: { require_approval: true } },
      { id: 'first', effects: { deny: { reason: 'contractors may not send HR data' } } },
      { id: 'second', effects: { deny: { reason: 'other' } } },
    ]).decide(input({ level: 'internal' }));
    assert.deepEqual(d.deny, { code: 'request_denied', rule: 'first', message: 'denied by rule first: contractors may not send HR data' });
    assert.deepEqual(d.eligibleTiers, []);
    assert.deepEqual(d.matchedRules, ['approve', 'first', 'second']);
    assert.ok(d.reasons.includes('tiers otherwise eligible: on-prem, private-cloud'));
    assert.equal(d.excludedBy['on-prem'], 'first');
  });

  it('require_approval rejects with approval_required and an empty set', () => {
    const d = base([{ id: 'needs-ok', effects: { require_approval: true } }]).decide(input({ level: 'confidential' }));
    assert.deepEqual(d.deny, { code: 'approval_required', rule: 'needs-ok', message: 'rule needs-ok requires approval for confidential data' });
    assert.equal(d.effects.requireApproval, true);
    assert.deepEqual(d.eligibleTiers, []);
  });

  it('an empty eligible set is request_denied even when approval is also required', () => {
    const d = base([
      { id: 'ok', effects: { require_approval: true } },
      { id: 'cloud-only', effects: { allow_tiers: ['public-api'] } },
    ]).decide(input({ level: 'regulated' }));
    assert.equal(d.deny?.code, 'request_denied');
    assert.equal(d.deny?.rule, 'cloud-only');
  });

  it('region_in intersects; no common region is a deny', () => {
    const e = base([
      { id: 'eu', effects: { region_in: ['eu-west', 'eu-central'] } },
      { id: 'central', when: { levels: ['regulated'] }, effects: { region_in: ['eu-central', 'us-east'] } },
      { id: 'us', when: { minLevel: 'regulated', regions: ['us'] }, effects: { region_in: ['us-east'] } },
    ]);
    assert.deepEqual(e.decide(input({ level: 'internal' })).regions, ['eu-west', 'eu-central']);
    const reg = e.decide(input({ level: 'regulated' }));
    assert.deepEqual(reg.regions, ['eu-central']);
    assert.deepEqual(reg.regionRules, ['eu', 'central']);
    const none = e.decide(input({ level: 'regulated', region: 'us' }));
    assert.deepEqual(none.regions, []);
    assert.deepEqual(none.deny, { code: 'request_denied', rule: 'eu, central, us', message: 'no backend region is allowed: the region_in of rules eu, central, us have no region in common' });
    assert.equal(engineFor({}).decide(input()).regions, undefined, 'no region_in, no restriction');
  });

  it('pseudonymize_for is a union in tier order; prefer is the last matching rule', () => {
    const d = base([
      { id: 'p1', effects: { pseudonymize_for: ['public-api'], prefer: 'cost' } },
      { id: 'p2', effects: { pseudonymize_for: ['private-cloud', 'public-api'], prefer: 'latency' } },
      { id: 'p3', when: { models: ['other'] }, effects: { prefer: 'cost' } },
    ]).decide(input({ level: 'public' }));
    assert.deepEqual(d.effects, { pseudonymizeFor: ['private-cloud', 'public-api'], requireApproval: false, prefer: 'latency' });
    assert.deepEqual(d.matchedRules, ['p1', 'p2']);
    assert.deepEqual(d.eligibleTiers, ['on-prem', 'public-api', 'private-cloud'], 'pseudonymize_for does not change eligibility');
  });
});

describe('policy engine: conditions', () => {
  const rule = (when: NonNullable<PolicyConfigInput['rules']>[number]['when']): ReturnType<typeof engineFor> =>
    engineFor({ workloads: { triage: { capability: 'mid' } }, rules: [{ id: 'r', when, effects: { prefer: 'cost' } }] });
  const hr = principal({ team: 'hr', roles: ['analyst', 'viewer'], groups: ['eu-staff'], attributes: { clearance: 'high', dept: 'people' } });
  const table: [string, NonNullable<PolicyConfigInput['rules']>[number]['when'], Parameters<typeof input>[0], boolean][] = [
    ['empty when matches everything', {}, {}, true],
    ['team', { principal: { teams: ['hr'] } }, { principal: hr }, true],
    ['team (other)', { principal: { teams: ['sales'] } }, { principal: hr }, false],
    ['team (none)', { principal: { teams: ['hr'] } }, {}, false],
    ['any role', { principal: { roles: ['admin', 'viewer'] } }, { principal: hr }, true],
    ['role (none)', { principal: { roles: ['admin'] } }, { principal: hr }, false],
    ['any group', { principal: { groups: ['eu-staff'] } }, { principal: hr }, true],
    ['attributes all match', { principal: { attributes: { clearance: ['high', 'top'], dept: ['people'] } } }, { principal: hr }, true],
    ['attributes one misses', { principal: { attributes: { clearance: ['high'], dept: ['it'] } } }, { principal: hr }, false],
    ['attribute absent', { principal: { attributes: { region: ['eu'] } } }, { principal: hr }, false],
    ['attribute named like a prototype member', { principal: { attributes: { constructor: ['x'] } } }, { principal: hr }, false],
    ['kind', { principal: { kinds: ['anonymous'] } }, {}, false],
    ['id', { principal: { ids: ['key-1'] } }, {}, true],
    ['all principal conditions together', { principal: { teams: ['hr'], roles: ['analyst'], kinds: ['api_key'] } }, { principal: hr }, true],
    ['workload', { workloads: ['triage'] }, { workload: 'triage' }, true],
    ['workload (none)', { workloads: ['triage'] }, {}, false],
    ['entity present', { entities: ['US_SSN', 'IBAN_CODE'] }, { entities: { IBAN_CODE: 2 } }, true],
    ['entity count 0', { entities: ['US_SSN'] }, { entities: { US_SSN: 0 } }, false],
    ['levels', { levels: ['internal', 'regulated'] }, { level: 'internal' }, true],
    ['levels (other)', { levels: ['internal'] }, { level: 'public' }, false],
    ['minLevel (at)', { minLevel: 'confidential' }, { level: 'confidential' }, true],
    ['minLevel (above)', { minLevel: 'confidential' }, { level: 'regulated' }, true],
    ['minLevel (below)', { minLevel: 'confidential' }, { level: 'internal' }, false],
    ['minLevel (unknown level counts as highest)', { minLevel: 'regulated' }, { level: 'mystery' }, true],
    ['capability', { capabilities: ['frontier'] }, { capability: 'frontier' }, true],
    ['capability of the workload for a virtual model', { capabilities: ['mid'] }, { capability: undefined, workload: 'triage' }, true],
    ['model', { models: ['gpt-4o', 'perimeter/auto'] }, { model: 'perimeter/auto' }, true],
    ['model (other)', { models: ['gpt-4o'] }, {}, false],
    ['region', { regions: ['eu'] }, { region: 'eu' }, true],
    ['region (none given)', { regions: ['eu'] }, {}, false],
    ['every condition must hold', { levels: ['public'], models: ['gpt-4o'] }, { level: 'public' }, false],
  ];
  for (const [name, when, over, matches] of table) {
    it(`${matches ? 'matches' : 'does not match'}: ${name}`, () => {
      assert.deepEqual(rule(when).decide(input(over)).matchedRules, matches ? ['r'] : []);
    });
  }

  it('unless: the rule is skipped when all its conditions hold', () => {
    const e = engineFor({
      rules: [{ id: 'only-medical', when: { levels: ['regulated'] }, unless: { principal: { teams: ['medical'] } }, effects: { deny: { reason: 'regulated data is for the medical team' } } }],
    });
    assert.equal(e.decide(input({ level: 'regulated', principal: principal({ team: 'sales' }) })).deny?.rule, 'only-medical');
    const medical = e.decide(input({ level: 'regulated', principal: principal({ team: 'medical' }) }));
    assert.equal(medical.deny, undefined);
    assert.deepEqual(medical.matchedRules, []);
  });

  it('reasons name rules, levels and tiers but never principal or attribute values', () => {
    const e = engineFor({ rules: [{ id: 'hr-onprem', when: { principal: { attributes: { clearance: ['high'] } } }, effects: { allow_tiers: ['on-prem'] } }] });
    const d = e.decide(input({ level: 'internal', principal: principal({ id: 'alice@example.com', attributes: { clearance: 'high' } }) }));
    const text = d.reasons.join('\n');
    assert.deepEqual(d.reasons, [
      'level internal, capability basic (from the model)',
      'matrix internal×any → [on-prem, private-cloud]',
      'rule hr-onprem matched: allow_tiers [on-prem]; removed private-cloud',
      'eligible tiers: on-prem',
    ]);
    assert.ok(!text.includes('alice') && !text.includes('high'));
  });
});

describe('policy engine: model rejection', () => {
  const engine = engineFor({
    rules: [
      { id: 'hr-onprem', when: { principal: { teams: ['hr'] } }, effects: { allow_tiers: ['on-prem'] } },
      { id: 'eu-only', when: { minLevel: 'confidential' }, effects: { region_in: ['eu-west', 'eu-central'] } },
    ],
  });

  it('names the level, the matrix cell and the allowed tiers', () => {
    const d = engine.decide(input({ level: 'regulated', capability: 'mid', model: 'gpt-4.1-mini' }));
    const r = engine.modelRejection(d, [{ tier: 'public-api', region: 'us-east' }]);
    assert.deepEqual(r, {
      code: 'model_not_permitted_for_data',
      level: 'regulated',
      rule: 'matrix regulated×any',
      servedTiers: ['public-api'],
      allowedTiers: ['on-prem'],
      allowedRegions: ['eu-west', 'eu-central'],
      permittedLevels: ['public'],
      message:
        'data is regulated (rule matrix regulated×any); model gpt-4.1-mini is served only in public-api; allowed tiers: on-prem; the matrix permits it for public data',
    });
  });

  it('names the rule that narrowed the set', () => {
    const d = engine.decide(input({ level: 'public', capability: 'frontier', model: 'claude-sonnet-4-5', principal: principal({ team: 'hr' }) }));
    const r = engine.modelRejection(d, [{ tier: 'public-api', region: 'us-east' }, { tier: 'private-cloud', region: 'eu-west' }]);
    assert.equal(r?.rule, 'hr-onprem');
    assert.equal(r?.message, 'data is public (rule hr-onprem); model claude-sonnet-4-5 is served only in private-cloud, public-api; allowed tiers: on-prem; the matrix permits it for public, internal, confidential data');
  });

  it('names the region rule when the tier is allowed but the region is not', () => {
    const d = engine.decide(input({ level: 'confidential', capability: 'frontier', model: 'gpt-4o' }));
    const r = engine.modelRejection(d, [{ tier: 'private-cloud', region: 'us-east' }]);
    assert.equal(r?.rule, 'eu-only');
    assert.equal(r?.message, 'data is confidential (rule eu-only); model gpt-4o is served in private-cloud only in us-east; allowed regions: eu-west, eu-central');
  });

  it('is undefined when a serving backend is eligible, when denied, or when nothing serves the model', () => {
    const d = engine.decide(input({ level: 'confidential', capability: 'frontier' }));
    assert.equal(engine.modelRejection(d, [{ tier: 'public-api', region: 'us-east' }, { tier: 'private-cloud', region: 'eu-west' }]), undefined);
    assert.equal(engine.modelRejection(d, []), undefined);
    const denied = engineFor({ rules: [{ id: 'no', effects: { deny: { reason: 'no' } } }] }).decide(input());
    assert.equal(engine.modelRejection(denied, [{ tier: 'public-api', region: 'us-east' }]), undefined);
  });
});
