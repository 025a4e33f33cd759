import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyCallerLabel } from '../../src/classify/levels.js';
import type { Classification } from '../../src/classify/types.js';
import { GatewayError } from '../../src/domain/errors.js';
import { KeyHasher } from '../../src/identity/api-key.js';
import { Authorizer } from '../../src/identity/authorize.js';
import { authSchema } from '../../src/identity/config.js';
import { MemoryKeyStore } from '../../src/identity/key-stores/memory.js';
import { ApiKeyService, principalForKey } from '../../src/identity/keys.js';
import { PEPPER, principal } from './support.js';

const roles = authSchema.parse({
  roles: {
    admin: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], admin: 'write' },
    viewer: { admin: 'read' },
    analyst: { models: ['llama-3.1-8b-instruct', 'perimeter/auto'], tiers: ['on-prem'], workloads: ['default', 'reports'], bases: ['hr-handbook'] },
    cloud: { models: ['gpt-4o'], tiers: ['private-cloud'], workloads: ['*'] },
    trusted: { models: ['*'], tiers: ['*'], workloads: ['*'], mayLowerSensitivity: true },
  },
}).roles;
const authz = new Authorizer(roles);

function forbidden(pattern: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof GatewayError && e.code === 'forbidden' && e.status === 403 && pattern.test(e.message);
}

describe('Authorizer (RBAC)', () => {
  const analyst = principal({ roles: ['analyst'] });

  it('allows what one role permits, with a stable 403 otherwise', () => {
    authz.authorize(analyst, { model: 'llama-3.1-8b-instruct', tier: 'on-prem' });
    authz.authorize(analyst, { model: 'perimeter/auto', workload: 'reports' });
    assert.throws(() => authz.authorize(analyst, { model: 'gpt-4o' }), forbidden(/^Your roles do not permit model "gpt-4o"\.$/));
    assert.throws(() => authz.authorize(analyst, { model: 'llama-3.1-8b-instruct', tier: 'public-api' }), forbidden(/on the public-api tier/));
    assert.throws(() => authz.authorize(analyst, { model: 'llama-3.1-8b-instruct', workload: 'batch' }), forbidden(/workload "batch"/));
  });

  it('does not combine one role model with another role tier', () => {
    const both = principal({ roles: ['analyst', 'cloud'] });
    authz.authorize(both, { model: 'gpt-4o', tier: 'private-cloud' });
    authz.authorize(both, { model: 'llama-3.1-8b-instruct', tier: 'on-prem' });
    assert.throws(() => authz.authorize(both, { model: 'llama-3.1-8b-instruct', tier: 'private-cloud' }), forbidden(/private-cloud tier/));
    assert.deepEqual(authz.allowedTiers(both, { model: 'gpt-4o' }), ['private-cloud']);
  });

  it('no roles, unknown roles, and viewers may use no model', () => {
    for (const p of [principal(), principal({ roles: ['ghost'] }), principal({ roles: ['viewer'] })]) {
      assert.throws(() => authz.authorize(p, { model: 'llama-3.1-8b-instruct' }), forbidden(/do not permit/));
    }
  });

  it('a key narrows its roles: allowed models and tiers', async () => {
    const svc = new ApiKeyService(new MemoryKeyStore(), new KeyHasher(PEPPER));
    const { key } = await svc.create({ owner: 'o', roles: ['admin'], models: ['gpt-4o'], tiers: ['private-cloud'] });
    const r = await svc.verify(key);
    assert.ok(r.ok);
    const p = principalForKey(r.record);
    authz.authorize(p, { model: 'gpt-4o', tier: 'private-cloud' });
    assert.throws(() => authz.authorize(p, { model: 'llama-3.1-8b-instruct' }), forbidden(/^This API key may not use model/));
    assert.throws(() => authz.authorize(p, { model: 'gpt-4o', tier: 'public-api' }), forbidden(/This API key may not use the public-api tier/));
    assert.deepEqual(authz.allowedTiers(p, { model: 'gpt-4o' }), ['private-cloud']);
  });

  it('visibleModels lists only what the caller may use', () => {
    const entries = [
      { id: 'llama-3.1-8b-instruct', tier: 'on-prem' as const },
      { id: 'gpt-4o', tier: 'private-cloud' as const },
      { id: 'gpt-4.1-mini', tier: 'public-api' as const },
    ];
    assert.deepEqual(authz.visibleModels(analyst, entries).map((e) => e.id), ['llama-3.1-8b-instruct']);
    assert.deepEqual(authz.visibleModels(principal({ roles: ['admin'] }), entries).map((e) => e.id), entries.map((e) => e.id));
    assert.deepEqual(authz.visibleModels(principal({ roles: ['viewer'] }), entries), []);
  });

  it('Bases and the admin API', () => {
    authz.authorizeBase(analyst, 'hr-handbook');
    assert.throws(() => authz.authorizeBase(analyst, 'finance'), forbidden(/Base "finance"/));
    const viewer = principal({ roles: ['viewer'] });
    authz.authorizeAdmin(viewer, 'read');
    assert.throws(() => authz.authorizeAdmin(viewer, 'write'), forbidden(/admin role is required/));
    authz.authorizeAdmin(principal({ roles: ['admin'] }), 'write');
    assert.throws(() => authz.authorizeAdmin(analyst, 'read'), forbidden(/admin or viewer/));
  });

  it('trusted roles may lower the classifier level through its hook; each use is reported', () => {
    const c: Classification = { level: 'confidential', findings: [], reasons: [] } as unknown as Classification;
    const uses: string[] = [];
    const trusted = principal({ id: 'alice', roles: ['trusted'] });
    const lowered = applyCallerLabel(c, 'internal', undefined, { mayLower: authz.sensitivityHook(trusted, () => uses.push(trusted.id)) });
    assert.equal(lowered.level, 'internal');
    assert.deepEqual(uses, ['alice']);
    const kept = applyCallerLabel(c, 'internal', undefined, { mayLower: authz.sensitivityHook(analyst, () => uses.push(analyst.id)) });
    assert.equal(kept.level, 'confidential');
    assert.deepEqual(uses, ['alice']);
    assert.equal(authz.mayLowerSensitivity(trusted), true);
    assert.equal(authz.mayLowerSensitivity(analyst), false);
  });
});
