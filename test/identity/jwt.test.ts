import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authSchema, type IssuerConfig } from '../../src/identity/config.js';
import { JwtError, JwtVerifier } from '../../src/identity/jwt.js';
import { JwksServer, sign, testKey, type TestKey } from './jwks-server.js';

const ISS_A = 'https://idp-a.example.test/realms/corp';
const ISS_B = 'https://idp-b.example.test';
const AUD = 'perimeter';

function issuer(name: string, iss: string, jwksUrl: string, extra: Record<string, unknown> = {}): IssuerConfig {
  const parsed = authSchema.parse({
    issuers: [{ name, issuer: iss, jwksUrl, audience: AUD, jwksCooldownMs: 0, clockToleranceSeconds: 30, ...extra }],
  });
  return parsed.issuers[0]!;
}

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof JwtError && e.reason === 'invalid' && pattern.test(e.message));
}

describe('JwtVerifier against a loopback JWKS', () => {
  const a = new JwksServer();
  const b = new JwksServer();
  let k1: TestKey;
  let k2: TestKey;
  let kb: TestKey;
  let verifier: JwtVerifier;

  before(async () => {
    [k1, k2, kb] = await Promise.all([testKey('a-1'), testKey('a-2', 'ES256'), testKey('b-1', 'EdDSA')]);
    a.keys = [k1.jwk];
    b.keys = [kb.jwk];
    const [urlA, urlB] = await Promise.all([a.start(), b.start()]);
    verifier = new JwtVerifier([
      issuer('corp', ISS_A, urlA, {
        claims: { groups: 'groups', team: 'team', attributes: { clearance: 'ext.clearance', department: 'department', region: 'region' } },
        groupRoles: { 'ai-developers': ['user'], 'ai-admins': ['admin', 'user'] },
        groupTeams: { 'team-payments': 'payments' },
      }),
      issuer('partner', ISS_B, urlB, { subjectPrefix: 'partner:', claims: { groups: 'realm_access.roles' }, groupRoles: { analyst: ['viewer'] } }),
    ]);
  });
  after(async () => Promise.all([a.stop(), b.stop()]));

  it('maps claims to a Principal: sub, groups → roles, team, attributes', async () => {
    const token = await sign(k1, {
      issuer: ISS_A,
      audience: AUD,
      subject: 'u-123',
      claims: { groups: ['ai-developers', 'team-payments', 'unrelated'], department: 'risk', region: 'eu', ext: { clearance: 'confidential' } },
    });
    const p = await verifier.verify(token);
    assert.deepEqual({ ...p }, {
      id: 'u-123',
      kind: 'jwt',
      team: 'payments',
      roles: ['user'],
      groups: ['ai-developers', 'team-payments', 'unrelated'],
      workload: undefined,
      attributes: { idp: 'corp', clearance: 'confidential', department: 'risk', region: 'eu' },
    });
  });

  it('an explicit team claim wins over group → team mapping', async () => {
    const token = await sign(k1, { issuer: ISS_A, audience: AUD, subject: 'u', claims: { groups: ['team-payments', 'ai-admins'], team: 'platform' } });
    const p = await verifier.verify(token);
    assert.equal(p.team, 'platform');
    assert.deepEqual([...p.roles].sort(), ['admin', 'user']);
  });

  it('several issuers: each token is checked with its own issuer keys; nested group claims', async () => {
    const token = await sign(kb, { issuer: ISS_B, audience: AUD, subject: 'x', claims: { realm_access: { roles: ['analyst'] } } });
    const p = await verifier.verify(token);
    assert.equal(p.id, 'partner:x');
    assert.deepEqual(p.roles, ['viewer']);
    // Signed by B's key but claiming to be A: A's JWKS has no such key.
    const forged = await sign(kb, { issuer: ISS_A, audience: AUD, subject: 'x' });
    await rejectsWith(verifier.verify(forged), /signing key is not among the issuer keys/);
  });

  it('rotation: a new kid published by the IdP is accepted after a refetch', async () => {
    const before = a.fetches;
    const token = await sign(k2, { issuer: ISS_A, audience: AUD, subject: 'rot' });
    a.keys = [k1.jwk, k2.jwk];
    assert.equal((await verifier.verify(token)).id, 'rot');
    assert.ok(a.fetches > before, 'the unknown kid triggered a JWKS fetch');
  });

  it('a revoked kid (removed from the JWKS) is refused once keys are reloaded', async () => {
    const token = await sign(k1, { issuer: ISS_A, audience: AUD, subject: 'old' });
    assert.equal((await verifier.verify(token)).id, 'old');
    a.keys = [k2.jwk];
    await verifier.reload();
    await rejectsWith(verifier.verify(token), /signing key is not among the issuer keys/);
  });

  it('an unknown kid is refused even after a refetch', async () => {
    const stranger = await testKey('never-published');
    const token = await sign(stranger, { issuer: ISS_A, audience: AUD, subject: 's' });
    const before = a.fetches;
    await rejectsWith(verifier.verify(token), /signing key is not among the issuer keys/);
    assert.ok(a.fetches > before);
  });

  it('a key published under a known kid but a different key is a signature failure', async () => {
    const impostor = await testKey('a-2', 'ES256');
    const token = await sign(impostor, { issuer: ISS_A, audience: AUD, subject: 's' });
    await rejectsWith(verifier.verify(token), /signature is invalid/);
  });

  it('expired, not yet valid, wrong audience, untrusted issuer, no exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejectsWith(verifier.verify(await sign(k2, { issuer: ISS_A, audience: AUD, subject: 's', issuedAt: now - 600, expiresIn: now - 120 })), /expired/);
    await rejectsWith(verifier.verify(await sign(k2, { issuer: ISS_A, audience: AUD, subject: 's', notBefore: now + 600 })), /claim "nbf"/);
    await rejectsWith(verifier.verify(await sign(k2, { issuer: ISS_A, audience: 'someone-else', subject: 's' })), /claim "aud"/);
    await rejectsWith(verifier.verify(await sign(k2, { issuer: 'https://evil.example.test', audience: AUD, subject: 's' })), /issuer is not trusted/);
  });

  it('clock skew: a token expired within the tolerance is still accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(k2, { issuer: ISS_A, audience: AUD, subject: 'skew', issuedAt: now - 300, expiresIn: now - 5 });
    assert.equal((await verifier.verify(token)).id, 'skew');
  });

  it('alg "none" and HS256 (with the public key as secret) are refused', async () => {
    const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const payload = enc({ iss: ISS_A, aud: AUD, sub: 'root', exp: Math.floor(Date.now() / 1000) + 300 });
    await rejectsWith(verifier.verify(`${enc({ alg: 'none', typ: 'JWT' })}.${payload}.`), /algorithm is not allowed|token is invalid/);
    const { createHmac } = await import('node:crypto');
    const head = enc({ alg: 'HS256', kid: 'a-2', typ: 'JWT' });
    const mac = createHmac('sha256', JSON.stringify(k2.jwk)).update(`${head}.${payload}`).digest('base64url');
    await rejectsWith(verifier.verify(`${head}.${payload}.${mac}`), /algorithm is not allowed/);
  });

  it('a token without a subject is refused; garbage is not a JWT', async () => {
    await rejectsWith(verifier.verify(await sign(k2, { issuer: ISS_A, audience: AUD })), /no "sub" claim/);
    await rejectsWith(verifier.verify('not.a.jwt'), /not a well-formed JWT/);
  });

  it('an unreachable JWKS is keys_unavailable, not a verdict on the caller', async () => {
    const down = new JwtVerifier([issuer('down', 'https://down.example.test', 'http://127.0.0.1:9/jwks.json', { jwksTimeoutMs: 2_000 })]);
    const token = await sign(k1, { issuer: 'https://down.example.test', audience: AUD, subject: 's' });
    await assert.rejects(down.verify(token), (e: unknown) => e instanceof JwtError && e.reason === 'keys_unavailable');
  });

  it('error messages never contain the token', async () => {
    const token = await sign(k1, { issuer: ISS_A, audience: 'wrong', subject: 'secret-subject' });
    try {
      await verifier.verify(token);
      assert.fail('should have been refused');
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.ok(!e.message.includes(token) && !e.message.includes('secret-subject'));
    }
  });
});
