import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import OpenAI from 'openai';
import { startStack, type TestStack } from '../helpers/gateway.js';
import { SqliteAuditStore } from '../../src/record/sqlite/sqlite-store.js';

const FULL = 'sk-perimeter-full-0123456789';
const ONPREM = 'sk-perimeter-onprem-0123456789';
const LIMITED = 'sk-perimeter-limited-0123456789';
const CARD = '4111 1111 1111 1111';

function openai(url: string, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
}

describe('identity on the request path', () => {
  let stack: TestStack;
  let jwks: Server;
  let issuerUrl: string;
  let sign: (claims: Record<string, unknown>) => Promise<string>;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const address = jwks.address();
    issuerUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    sign = (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(issuerUrl)
        .setAudience('perimeter')
        .setSubject('alice')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-keys-'));
    stack = await startStack({
      env: { PERIMETER_PEPPER: 'pepper-for-tests-0123456789abcdef' },
      authYaml: `auth:
  required: true
  pepper: env:PERIMETER_PEPPER
  keyStore: { kind: sqlite, path: ${join(dir, 'keys.db')} }
  roles:
    user: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'] }
    onprem-only: { models: ['*'], tiers: [on-prem], workloads: ['*'] }
    analyst: { models: ['*'], tiers: ['*'], workloads: ['*'] }
  keys:
    - { id: full, insecurePlaintext: ${FULL}, owner: tests, team: platform }
    - { id: onprem, insecurePlaintext: ${ONPREM}, owner: tests, roles: [onprem-only] }
    - { id: limited, insecurePlaintext: ${LIMITED}, owner: tests, limits: { requestsPerMinute: 2 } }
  issuers:
    - name: corp
      issuer: ${issuerUrl}
      jwksUrl: ${issuerUrl}/jwks
      audience: perimeter
      claims: { attributes: { clearance: clearance } }
      groupRoles: { analysts: [analyst] }
policy:
  rules:
    - id: regulated-needs-clearance
      when: { levels: [regulated] }
      unless: { principal: { attributes: { clearance: [high] } } }
      effects: { deny: { reason: regulated data needs high clearance } }`,
    });
  });
  after(async () => {
    await stack.close();
    await new Promise((r) => jwks.close(r));
  });

  it('refuses a request without a credential, or with a bad one, in each envelope', async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'authentication_failed');
    await assert.rejects(
      openai(stack.url, 'sk-perimeter-wrong-0000000000').chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof OpenAI.AuthenticationError && !err.message.includes('wrong-0000'),
    );
    await assert.rejects(
      new Anthropic({ baseURL: stack.url, apiKey: 'sk-perimeter-nope-0000000000', maxRetries: 0 }).messages.create({
        model: 'llama-3.1-8b-instruct',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
      (err: unknown) => err instanceof Anthropic.AuthenticationError,
    );
    const models = await fetch(`${stack.url}/v1/models`);
    assert.equal(models.status, 401);
  });

  it('accepts a key in Authorization or x-api-key', async () => {
    const viaBearer = await openai(stack.url, FULL).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(viaBearer.choices[0]?.message.content, 'You said: hello');
    const viaAnthropic = await new Anthropic({ baseURL: stack.url, apiKey: FULL, maxRetries: 0 }).messages.create({
      model: 'llama-3.1-8b-instruct',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(viaAnthropic.type, 'message');
  });

  it('a role bound to on-prem cannot reach another tier, and sees only on-prem models', async () => {
    const client = openai(stack.url, ONPREM);
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.PermissionDeniedError);
      assert.equal(err.code, 'forbidden');
      return true;
    });
    const ok = await client.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    assert.equal(ok.response.headers.get('x-perimeter-tier'), 'on-prem');
    const tiers = new Set<string>();
    for await (const m of client.models.list()) tiers.add((m as unknown as { perimeter: { tier: string } }).perimeter.tier);
    assert.deepEqual([...tiers], ['on-prem']);
  });

  it('a key over its request rate gets 429 rate_limited with Retry-After', async () => {
    const client = openai(stack.url, LIMITED);
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }] });
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${LIMITED}` },
      body: JSON.stringify({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 429);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
  });

  it('a key issued from the store works at once and stops working at once when revoked', async () => {
    const issued = await stack.gateway.gateway.live.current.identity.keys.create({ owner: 'ops', roles: ['user'] });
    const client = openai(stack.url, issued.key);
    const ok = await client.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(ok.choices.length === 1);
    await stack.gateway.gateway.live.current.identity.keys.revoke(issued.record.id);
    await assert.rejects(client.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.AuthenticationError);
  });

  it('a JWT from the configured issuer authenticates, and its claims drive policy rules (ABAC)', async () => {
    const cleared = await sign({ groups: ['analysts'], clearance: 'high' });
    const uncleared = await sign({ groups: ['analysts'], clearance: 'low' });
    const ok = await openai(stack.url, cleared).chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: `card ${CARD}` }] });
    assert.ok(ok.choices[0]?.message.content?.includes('4111'));
    await assert.rejects(
      openai(stack.url, uncleared).chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: `card ${CARD}` }] }),
      (err: unknown) => err instanceof OpenAI.PermissionDeniedError && err.code === 'request_denied' && /regulated-needs-clearance/.test(err.message),
    );
    const expired = await new SignJWT({ groups: ['analysts'] }).setProtectedHeader({ alg: 'none' }).setIssuer(issuerUrl).setAudience('perimeter').sign(new Uint8Array(32)).catch(() => 'not-a-token');
    await assert.rejects(openai(stack.url, expired).chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'x' }] }), OpenAI.AuthenticationError);
  });
});

describe('trusted roles lowering a label', () => {
  it('lowers only for a role allowed to, and every use lands in the audit trail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-lower-'));
    const TRUSTED = 'sk-perimeter-trusted-0123456789';
    const PLAIN = 'sk-perimeter-plain-0123456789';
    const stack = await startStack({
      authYaml: `auth:
  required: true
  roles:
    user: { models: ['*'], tiers: ['*'], workloads: ['*'] }
    data-steward: { models: ['*'], tiers: ['*'], workloads: ['*'], mayLowerSensitivity: true }
  keys:
    - { id: trusted, insecurePlaintext: ${TRUSTED}, owner: steward, roles: [data-steward] }
    - { id: plain, insecurePlaintext: ${PLAIN}, owner: app }`,
      extraYaml: `records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { flushIntervalMs: 20, spillPath: ${join(dir, 'spill.jsonl')} } }`,
    });
    try {
      // A test card number the steward knows is synthetic: lowered to internal, it may go to private-cloud.
      const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: `test fixture card ${CARD}` }] };
      const lowered = await openai(stack.url, TRUSTED).chat.completions.create(body, { headers: { 'x-perimeter-sensitivity': 'internal' } }).withResponse();
      assert.equal(lowered.response.headers.get('x-perimeter-sensitivity'), 'internal');
      assert.equal(lowered.response.headers.get('x-perimeter-tier'), 'private-cloud');
      await assert.rejects(
        openai(stack.url, PLAIN).chat.completions.create(body, { headers: { 'x-perimeter-sensitivity': 'internal' } }),
        (err: unknown) => err instanceof OpenAI.PermissionDeniedError && err.code === 'model_not_permitted_for_data',
      );
    } finally {
      await stack.close();
    }
    const store = new SqliteAuditStore(join(dir, 'records.db'));
    const entries = (await store.scan(0, 1000)).map((e) => e.entry as { action: string; actor: string });
    await store.close();
    const uses = entries.filter((e) => e.action === 'sensitivity.lower');
    assert.equal(uses.length, 1);
    assert.match(uses[0]?.actor ?? '', /trusted/);
  });
});
