import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatewayError } from '../../src/domain/errors.js';
import { KeyHasher } from '../../src/identity/api-key.js';
import { Authenticator, type AuthFailure } from '../../src/identity/authenticate.js';
import { authSchema } from '../../src/identity/config.js';
import { JwtVerifier } from '../../src/identity/jwt.js';
import { MemoryKeyStore } from '../../src/identity/key-stores/memory.js';
import { ApiKeyService } from '../../src/identity/keys.js';
import { createIdentity } from '../../src/identity/setup.js';
import { JwksServer, sign, testKey, type TestKey } from './jwks-server.js';
import { PEPPER } from './support.js';

const ISS = 'https://sso.example.test';

function authError(code: 'authentication_failed', secret?: string): (e: unknown) => boolean {
  return (e) => e instanceof GatewayError && e.code === code && e.status === 401 && (secret === undefined || !e.message.includes(secret));
}

describe('Authenticator', () => {
  const jwks = new JwksServer();
  let key: TestKey;
  let keys: ApiKeyService;
  let apiKey: string;
  let auth: Authenticator;
  const failures: AuthFailure[] = [];

  before(async () => {
    key = await testKey('k1');
    jwks.keys = [key.jwk];
    const url = await jwks.start();
    keys = new ApiKeyService(new MemoryKeyStore(), new KeyHasher(PEPPER));
    ({ key: apiKey } = await keys.create({ owner: 'alice', team: 'payments', roles: ['user'] }));
    const cfg = authSchema.parse({ issuers: [{ name: 'sso', issuer: ISS, jwksUrl: url, audience: 'perimeter', groupRoles: { devs: ['user'] } }] });
    auth = new Authenticator({ required: true, keys: [keys], jwt: new JwtVerifier(cfg.issuers), onFailure: (f) => failures.push(f) });
  });
  after(async () => jwks.stop());

  it('Authorization: Bearer <key> (OpenAI SDKs)', async () => {
    const p = await auth.authenticate({ authorization: `Bearer ${apiKey}` });
    assert.equal(p.kind, 'api_key');
    assert.equal(p.team, 'payments');
  });

  it('x-api-key: <key> (Anthropic SDK), and both headers carrying the same key', async () => {
    assert.equal((await auth.authenticate({ 'x-api-key': apiKey })).kind, 'api_key');
    assert.equal((await auth.authenticate({ 'x-api-key': apiKey, authorization: `bearer ${apiKey}` })).kind, 'api_key');
  });

  it('Bearer <JWT> from a configured issuer', async () => {
    const token = await sign(key, { issuer: ISS, audience: 'perimeter', subject: 'u1', claims: { groups: ['devs'] } });
    const p = await auth.authenticate({ authorization: `Bearer ${token}` });
    assert.deepEqual([p.kind, p.id, p.roles], ['jwt', 'u1', ['user']]);
  });

  it('401 without echoing the credential: missing, unknown, revoked, malformed, conflicting', async () => {
    await assert.rejects(auth.authenticate({}), authError('authentication_failed'));
    const bogus = 'sk-perimeter-definitely-not-a-real-key';
    await assert.rejects(auth.authenticate({ authorization: `Bearer ${bogus}` }), authError('authentication_failed', bogus));
    const { key: revoked, record } = await keys.create({ owner: 'bob' });
    await keys.revoke(record.id);
    await assert.rejects(auth.authenticate({ 'x-api-key': revoked }), (e) => authError('authentication_failed', revoked)(e) && /revoked/.test((e as Error).message));
    await assert.rejects(auth.authenticate({ authorization: 'Basic dXNlcjpwYXNz' }), authError('authentication_failed', 'dXNlcjpwYXNz'));
    await assert.rejects(auth.authenticate({ authorization: 'Bearer opaque-token-xyz' }), authError('authentication_failed', 'opaque-token-xyz'));
    await assert.rejects(auth.authenticate({ authorization: `Bearer ${apiKey}`, 'x-api-key': bogus }), authError('authentication_failed', apiKey));
    await assert.rejects(auth.authenticate({ authorization: ['Bearer a', 'Bearer b'] }), authError('authentication_failed'));
    const badJwt = await sign(key, { issuer: ISS, audience: 'other', subject: 'u' });
    await assert.rejects(auth.authenticate({ authorization: `Bearer ${badJwt}` }), authError('authentication_failed', badJwt));
  });

  it('failure reports name the reason, never the credential', () => {
    assert.ok(failures.length >= 5);
    for (const f of failures) assert.ok(!JSON.stringify(f).includes('sk-perimeter-'));
  });

  it('auth.required=false: no credential → anonymous with the configured roles; a bad one is still 401', async () => {
    const dev = new Authenticator({ required: false, anonymousRoles: ['user'], keys: [keys] });
    const p = await dev.authenticate({});
    assert.deepEqual([p.id, p.kind, p.roles], ['anonymous', 'anonymous', ['user']]);
    await assert.rejects(dev.authenticate({ 'x-api-key': 'sk-perimeter-typo' }), authError('authentication_failed'));
  });

  it('a JWT when no issuer is configured is refused', async () => {
    const noJwt = new Authenticator({ required: true, keys: [keys] });
    const token = await sign(key, { issuer: ISS, audience: 'perimeter', subject: 'u1' });
    await assert.rejects(noJwt.authenticate({ authorization: `Bearer ${token}` }), authError('authentication_failed'));
  });
});

describe('createIdentity: config keys (demo key) hashed at load', () => {
  it('sk-perimeter-demo authenticates; its value is not kept anywhere in the store', async () => {
    const cfg = authSchema.parse({
      keys: [{ id: 'demo', insecurePlaintext: 'sk-perimeter-demo', owner: 'demo', team: 'demo' }],
    });
    const identity = await createIdentity(cfg, { env: {}, tierSources: defaultSources() });
    try {
      const p = await identity.authenticator.authenticate({ authorization: 'Bearer sk-perimeter-demo' });
      assert.deepEqual([p.id, p.kind, p.team, p.roles], ['demo', 'api_key', 'demo', ['user']]);
      const listed = JSON.stringify(await identity.keys.store.list());
      assert.ok(!listed.includes('sk-perimeter-demo'));
      await assert.rejects(identity.authenticator.authenticate({}), authError('authentication_failed'));
    } finally {
      await identity.close();
    }
  });

  it('config keys by secret reference; a persistent store keeps them apart from issued keys', async () => {
    const cfg = authSchema.parse({
      pepper: 'env:PERIMETER_AUTH_PEPPER',
      keyStore: { kind: 'sqlite', path: ':memory:' },
      keys: [{ id: 'ci', secret: 'env:PERIMETER_AUTH_CI_KEY', owner: 'ci' }],
    });
    const env = { PERIMETER_AUTH_PEPPER: 'x'.repeat(32), PERIMETER_AUTH_CI_KEY: 'sk-perimeter-ci-from-env' };
    const identity = await createIdentity(cfg, { env, tierSources: defaultSources() });
    try {
      assert.equal((await identity.authenticator.authenticate({ 'x-api-key': 'sk-perimeter-ci-from-env' })).id, 'ci');
      assert.deepEqual(await identity.keys.list(), [], 'config keys are not written into the persistent store');
      const issued = await identity.keys.create({ owner: 'o' });
      assert.equal((await identity.authenticator.authenticate({ 'x-api-key': issued.key })).id, issued.record.id);
    } finally {
      await identity.close();
    }
  });
});

function defaultSources() {
  return {
    'on-prem': { envPrefix: 'PERIMETER_ONPREM_' },
    'private-cloud': { envPrefix: 'PERIMETER_PRIVATE_CLOUD_' },
    'public-api': { envPrefix: 'PERIMETER_PUBLIC_API_' },
  };
}
