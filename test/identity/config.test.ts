import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authSchema } from '../../src/identity/config.js';
import { limitsSchema } from '../../src/identity/limits/config.js';

describe('auth and limits config schemas', () => {
  it('defaults are complete and closed', () => {
    const a = authSchema.parse({});
    assert.equal(a.required, true);
    assert.deepEqual(a.keyStore, { kind: 'memory' });
    assert.deepEqual(a.keys, []);
    assert.deepEqual(Object.keys(a.roles).sort(), ['admin', 'user', 'viewer']);
    assert.equal(a.roles.viewer?.admin, 'read');
    const l = limitsSchema.parse({});
    assert.equal(l.store, 'memory');
    assert.deepEqual(l.failMode, { rates: 'local', budgets: 'closed' });
    assert.deepEqual(l.defaults, { key: {}, team: {}, workload: {} });
  });

  it('refuses inline secrets, unknown roles, a persistent store without pepper', () => {
    const bad = authSchema.safeParse({
      keyStore: { kind: 'sqlite', path: '/var/lib/perimeter/keys.db' },
      keys: [{ id: 'k', owner: 'o', roles: ['root'], secret: 'sk-perimeter-inline' }],
    });
    assert.equal(bad.success, false);
    const text = JSON.stringify(bad.error?.issues);
    assert.match(text, /pepper/);
    assert.match(text, /must be a reference/);
    assert.match(text, /unknown role \\"root\\"/);
  });

  it('a config key needs exactly one of secret / insecurePlaintext; plaintext must look like a key', () => {
    assert.equal(authSchema.safeParse({ keys: [{ id: 'k', owner: 'o' }] }).success, false);
    assert.equal(authSchema.safeParse({ keys: [{ id: 'k', owner: 'o', insecurePlaintext: 'hunter2hunter2' }] }).success, false);
    assert.equal(authSchema.safeParse({ keys: [{ id: 'k', owner: 'o', insecurePlaintext: 'sk-perimeter-demo' }] }).success, true);
  });

  it('issuers: defaults for claims and JWKS caching; group roles must exist', () => {
    const a = authSchema.parse({ issuers: [{ name: 'corp', issuer: 'https://sso.example.com', jwksUrl: 'https://sso.example.com/jwks', audience: 'perimeter' }] });
    const i = a.issuers[0]!;
    assert.deepEqual(i.claims, { subject: 'sub', groups: 'groups', attributes: {} });
    assert.equal(i.jwksCooldownMs, 30_000);
    assert.equal(i.clockToleranceSeconds, 60);
    const bad = authSchema.safeParse({ issuers: [{ name: 'c', issuer: 'https://x.test', jwksUrl: 'https://x.test/j', audience: 'a', groupRoles: { g: ['nope'] } }] });
    assert.equal(bad.success, false);
  });

  it('limits: redis URL with credentials must be a reference', () => {
    assert.equal(limitsSchema.safeParse({ redis: { url: 'redis://:secret@redis:6379' } }).success, false);
    assert.equal(limitsSchema.safeParse({ redis: { url: 'env:PERIMETER_REDIS_URL' } }).success, true);
    assert.equal(limitsSchema.safeParse({ redis: { url: 'redis://redis:6379' } }).success, true);
  });
});
