import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  BUNDLE_FORMAT,
  BundleKeyError,
  bundleContentFromConfig,
  contentSha256,
  ed25519PrivateKey,
  ed25519PublicKey,
  signBundle,
  verifyBundle,
} from '../../../src/federation/bundles/format.js';
import { BundlePublisher } from '../../../src/federation/bundles/publisher.js';
import { bundlesSchema } from '../../../src/federation/bundles/config.js';
import { createBundles } from '../../../src/federation/bundles/setup.js';
import { resolveGatewaySecret } from '../../../src/identity/gateway-secret.js';
import { ed25519Pair, hqConfig, tempDir } from './support.js';

describe('bundle format', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const keys = ed25519Pair();
  const trusted = new Map([['hq-1', keys.publicKey]]);

  it('signs and verifies: the content comes back as published, with only the keys that were sent', () => {
    const content = bundleContentFromConfig(hqConfig(), ['dictionaries', 'policy']);
    const bundle = signBundle({ publisher: 'hq', version: 3, createdAt: '2025-01-02T03:04:05.000Z', keyId: 'hq-1', content }, keys.privateKey);
    assert.equal(bundle.format, BUNDLE_FORMAT);
    assert.equal(bundle.contentSha256, contentSha256(bundle.content));
    // It travels as JSON.
    const outcome = verifyBundle(JSON.parse(JSON.stringify(bundle)), trusted);
    assert.ok(outcome.ok, outcome.ok ? '' : `${outcome.reason}: ${outcome.detail}`);
    assert.deepEqual(Object.keys(outcome.content.classification ?? {}).sort(), ['allowList', 'allowPatterns', 'custom', 'denyList']);
    assert.deepEqual(outcome.content.classification?.denyList, ['opnightjar']);
    assert.deepEqual(outcome.content.policy?.matrix.public, { any: ['on-prem'] });

    const policyOnly = signBundle({ publisher: 'hq', version: 1, createdAt: bundle.createdAt, keyId: 'hq-1', content: bundleContentFromConfig(hqConfig(), ['policy']) }, keys.privateKey);
    const checked = verifyBundle(policyOnly, trusted);
    assert.ok(checked.ok);
    assert.equal(checked.content.classification, undefined, 'no dictionaries in, none out');

    // A bundle that says nothing is refused: applying it would be a no-op nobody meant.
    const empty = signBundle({ publisher: 'hq', version: 1, createdAt: bundle.createdAt, keyId: 'hq-1', content: {} }, keys.privateKey);
    const refused = verifyBundle(empty, trusted);
    assert.equal(refused.ok ? 'ok' : refused.reason, 'invalid_content');
  });

  it('signing is deterministic: same fields, same bytes', () => {
    const fields = { publisher: 'hq', version: 1, createdAt: '2025-01-02T03:04:05.000Z', keyId: 'hq-1', content: bundleContentFromConfig(hqConfig(), ['policy']) };
    assert.deepEqual(signBundle(fields, keys.privateKey), signBundle(fields, keys.privateKey));
  });

  it('refuses keys that are not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.throws(() => ed25519PrivateKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), BundleKeyError);
    assert.throws(() => ed25519PublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()), BundleKeyError);
    assert.throws(() => ed25519PublicKey('not a key'), BundleKeyError);
    assert.equal(ed25519PublicKey(keys.publicPem).asymmetricKeyType, 'ed25519');
  });

  it('config: keys are PEM or references, keyIds unique, state files apart', () => {
    const ok = bundlesSchema.safeParse({
      publish: { signingKey: 'file:/etc/perimeter/bundle.key', keyId: 'hq-1', stateFile: '/var/lib/perimeter/published.json' },
      subscribe: { from: 'hq', trustedKeys: [{ keyId: 'hq-1', publicKey: keys.publicPem }, { keyId: 'hq-2', publicKey: 'env:HQ_KEY_2' }], stateFile: '/var/lib/perimeter/applied.json' },
    });
    assert.ok(ok.success, JSON.stringify(ok.error?.issues));
    assert.deepEqual(ok.data.publish?.include, ['dictionaries', 'policy']);
    assert.equal(ok.data.subscribe?.intervalMs, 60_000);
    const inlineSecret = bundlesSchema.safeParse({ publish: { signingKey: keys.privatePem, keyId: 'k', stateFile: '/s' } });
    assert.equal(inlineSecret.success, false, 'a private key is never written inline');
    const dup = bundlesSchema.safeParse({
      subscribe: { from: 'hq', trustedKeys: [{ keyId: 'a', publicKey: 'env:A' }, { keyId: 'a', publicKey: 'env:B' }], stateFile: '/s' },
    });
    assert.equal(dup.success, false);
    const same = bundlesSchema.safeParse({
      publish: { signingKey: 'env:K', keyId: 'k', stateFile: '/s' },
      subscribe: { from: 'hq', trustedKeys: [{ keyId: 'a', publicKey: 'env:A' }], stateFile: '/s' },
    });
    assert.equal(same.success, false);
  });

  it('publisher: the version goes up exactly when the content changes, and survives a restart', async () => {
    const stateFile = join(tmp.dir, 'published.json');
    let config = hqConfig();
    const options = {
      config: { signingKey: 'env:UNUSED', keyId: 'hq-1', include: ['dictionaries', 'policy'] as ('dictionaries' | 'policy')[], stateFile },
      publisher: 'hq',
      signingKey: keys.privateKey,
      source: () => config,
    };
    const publisher = new BundlePublisher(options);
    const first = await publisher.latest();
    assert.equal(first.version, 1);
    assert.deepEqual(await publisher.handlePull({}), first, 'unchanged content: the same bundle, byte for byte');
    assert.equal(JSON.parse(readFileSync(stateFile, 'utf8')).version, 1);

    config = hqConfig('policy: { matrix: { public: { any: [on-prem, private-cloud] } } }');
    const second = await publisher.latest();
    assert.equal(second.version, 2);
    assert.notEqual(second.contentSha256, first.contentSha256);

    // A new process: the counter is read back, so the same content keeps version 2 and new content gets 3.
    const restarted = new BundlePublisher(options);
    assert.deepEqual(await restarted.latest(), second);
    config = hqConfig();
    const third = await restarted.latest();
    assert.equal(third.version, 3, 'going back to earlier content is still a newer version');
    assert.ok(verifyBundle(third, trusted).ok);
  });

  it('createBundles: the signing key comes from a gateway secret file; a publisher-only config has no subscriber', async () => {
    const keyFile = join(tmp.dir, 'signing.key.pem');
    writeFileSync(keyFile, keys.privatePem, { mode: 0o600 });
    const config = hqConfig();
    const deps = {
      deploymentId: 'hq',
      resolveSecret: (ref: string) => resolveGatewaySecret(ref, {}, config.secrets).reveal(),
      source: () => config,
      fetch: async () => undefined,
      apply: async () => ({ ok: true, problems: [] }),
      append: async () => undefined,
    };
    const section = bundlesSchema.parse({ publish: { signingKey: `file:${keyFile}`, keyId: 'hq-1', stateFile: join(tmp.dir, 'counter.json') } });
    const { publisher, subscriber } = createBundles(section, deps);
    assert.equal(subscriber, undefined);
    const bundle = await publisher?.handlePull();
    assert.equal(bundle?.publisher, 'hq');
    assert.ok(verifyBundle(bundle, trusted).ok);

    writeFileSync(keyFile, keys.publicPem);
    assert.throws(() => createBundles(section, deps), BundleKeyError, 'a public key is no signing key');
  });
});
