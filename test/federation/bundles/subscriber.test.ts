import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfigText, type LoadedConfig } from '../../../src/config/loader.js';
import type { BundleSubscribeConfig } from '../../../src/federation/bundles/config.js';
import { bundleContentFromConfig, bundleOverlay, signBundle, type BundleContent, type SignedBundle } from '../../../src/federation/bundles/format.js';
import { BundlePublisher } from '../../../src/federation/bundles/publisher.js';
import { BundleSubscriber, type ApplyResult } from '../../../src/federation/bundles/subscriber.js';
import { AuditLog, type AuditEntry } from '../../../src/record/audit.js';
import { SqliteAuditStore } from '../../../src/record/sqlite/sqlite-store.js';
import { ed25519Pair, hqConfig, tempDir } from './support.js';

const BRANCH_YAML = `
deployment: { id: branch }
backends:
  - { id: local, tier: on-prem, region: eu, protocol: openai, baseUrl: "http://127.0.0.1:9/v1", maxConcurrency: 4, models: [{ id: m }] }
classification:
  denyList: [branch-secret]
`;

describe('bundle subscriber', () => {
  const tmp = tempDir();
  const hq = ed25519Pair();
  const other = ed25519Pair();
  const trustedKeys = new Map([['hq-1', hq.publicKey]]);
  let audit: AuditLog;
  let store: SqliteAuditStore;

  before(async () => {
    store = new SqliteAuditStore(join(tmp.dir, 'audit.db'));
    await store.migrate();
    audit = new AuditLog(store, { deploymentId: 'branch' });
  });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  /** The receiving side: a real config, with the overlay merged and validated by the real loader. */
  function receiver(): { current: () => LoadedConfig; apply: (c: BundleContent) => Promise<ApplyResult>; applies: () => number } {
    let current = loadConfigText(BRANCH_YAML, 'branch.yaml', {}, {});
    let applies = 0;
    return {
      current: () => current,
      applies: () => applies,
      apply: async (content) => {
        applies++;
        try {
          current = current.withOverlay(bundleOverlay(content));
          return { ok: true, problems: [] };
        } catch (err) {
          if (err instanceof ConfigError) return { ok: false, problems: err.problems };
          throw err;
        }
      },
    };
  }

  function subscriberConfig(name: string): BundleSubscribeConfig {
    return { from: 'hq', trustedKeys: [{ keyId: 'hq-1', publicKey: hq.publicPem }], intervalMs: 1_000, stateFile: join(tmp.dir, `${name}.json`) };
  }

  async function auditEntries(): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const e of audit.entries({ kind: 'federation' })) out.push(e);
    return out;
  }

  const sign = (content: BundleContent, over: Partial<{ publisher: string; version: number; keyId: string }> = {}, key = hq.privateKey): SignedBundle =>
    signBundle({ publisher: 'hq', version: 5, createdAt: '2025-03-01T00:00:00.000Z', keyId: 'hq-1', content, ...over }, key);

  it('applies a real publisher\'s bundle, keeps it in the state file and audits it', async () => {
    const side = receiver();
    const publisher = new BundlePublisher({
      config: { signingKey: 'env:UNUSED', keyId: 'hq-1', include: ['dictionaries', 'policy'], stateFile: join(tmp.dir, 'hq-counter.json') },
      publisher: 'hq',
      signingKey: hq.privateKey,
      source: () => hqConfig(),
    });
    const config = subscriberConfig('applied');
    const sub = new BundleSubscriber({ config, trustedKeys, fetch: () => publisher.handlePull(), apply: side.apply, append: (e) => audit.append(e) });
    assert.equal(sub.status().appliedVersion, 0);
    const outcome = await sub.pull();
    assert.equal(outcome.outcome, 'applied');
    const live = side.current().config;
    assert.deepEqual(live.policy.matrix.public, { any: ['on-prem'] });
    assert.deepEqual(live.classification.denyList, ['opnightjar'], 'the shared deny list replaces the local one');
    assert.equal(live.classification.custom.dictionaries[0]?.entity, 'PROJECT_CODENAME');
    assert.equal(live.deployment.id, 'branch', 'everything else stays the receiver\'s');

    const status = sub.status();
    assert.equal(status.appliedVersion, 1);
    assert.equal(status.publisher, 'hq');
    assert.equal(status.lastError, undefined);
    const stored = JSON.parse(readFileSync(config.stateFile, 'utf8')) as { bundle: SignedBundle };
    assert.equal(stored.bundle.version, 1);

    // The same bundle again is nothing new: not applied twice, not audited twice.
    assert.equal((await sub.pull()).outcome, 'unchanged');
    assert.equal(side.applies(), 1);
    const applied = (await auditEntries()).filter((e) => e.action === 'bundle.apply');
    assert.equal(applied.length, 1);
    assert.equal(applied[0]?.data.version, 1);
    assert.equal(applied[0]?.data.publisher, 'hq');
    assert.equal(applied[0]?.data.sha256, status.sha256);
    assert.ok(!JSON.stringify(applied).includes('bluefalcon'), 'no dictionary content in the audit trail');
  });

  it('refuses every tampered bundle with its own reason; nothing changes, each is audited', async () => {
    const side = receiver();
    const config = subscriberConfig('tamper');
    let serve: unknown;
    const sub = new BundleSubscriber({ config, trustedKeys, fetch: async () => serve, apply: side.apply, append: (e) => audit.append(e) });
    const good = sign(bundleContentFromConfig(hqConfig(), ['dictionaries', 'policy']));
    serve = good;
    assert.equal((await sub.pull()).outcome, 'applied');
    const appliedConfig = side.current().config;
    const stateBefore = readFileSync(config.stateFile, 'utf8');
    const newer = { ...good, version: 6 };

    const flipContent = structuredClone(newer) as SignedBundle & { content: { classification: { denyList: string[] } } };
    flipContent.content.classification.denyList = ['opnightjaR'];
    const flipSignature = { ...sign(good.content as BundleContent, { version: 6 }) };
    flipSignature.signature = (flipSignature.signature.startsWith('A') ? 'B' : 'A') + flipSignature.signature.slice(1);
    const rehashed = structuredClone(flipContent);
    rehashed.contentSha256 = (await import('../../../src/federation/bundles/format.js')).contentSha256(rehashed.content);
    const cases: [string, unknown, string][] = [
      ['one character of the content changed', flipContent, 'content_hash_mismatch'],
      ['content changed and its hash recomputed', rehashed, 'bad_signature'],
      ['one character of the signature changed', flipSignature, 'bad_signature'],
      ['signed by another key under the trusted keyId', sign(good.content as BundleContent, { version: 6 }, other.privateKey), 'bad_signature'],
      ['signed by a key nobody trusts', sign(good.content as BundleContent, { version: 6, keyId: 'mallory-1' }, other.privateKey), 'unknown_key'],
      ['a trusted key, but another publisher', sign(good.content as BundleContent, { version: 6, publisher: 'mallory' }), 'wrong_publisher'],
      ['an older version replayed', sign(good.content as BundleContent, { version: 4 }), 'stale_version'],
      ['the applied version with other content', sign({ policy: hqConfig().policy }, { version: 5 }), 'stale_version'],
      ['content outside the schema', sign({ policy: { matrix: { public: { any: ['moon'] } } } } as unknown as BundleContent, { version: 6 }), 'invalid_content'],
      ['a classification key that is not a dictionary', sign({ classification: { levels: ['a', 'b'] } } as unknown as BundleContent, { version: 6 }), 'invalid_content'],
      ['content that does not fit this deployment', sign({ policy: { matrix: { secret: { any: ['on-prem'] } } } } as unknown as BundleContent, { version: 6 }), 'apply_failed'],
      ['another format', { ...newer, format: 'perimeter.bundle/v2' }, 'unsupported_format'],
      ['not a bundle', { hello: 'world' }, 'malformed'],
    ];
    for (const [what, bundle, reason] of cases) {
      serve = bundle;
      const outcome = await sub.pull();
      assert.equal(outcome.outcome === 'rejected' ? outcome.reason : outcome.outcome, reason, what);
      assert.equal(side.current().config, appliedConfig, `${what}: config unchanged`);
      assert.equal(sub.status().appliedVersion, 5, `${what}: version unchanged`);
      assert.equal(sub.status().lastError?.reason, reason);
      assert.equal(readFileSync(config.stateFile, 'utf8'), stateBefore, `${what}: state file unchanged`);
    }
    // Only the one that verified reached apply (and was refused there).
    assert.equal(side.applies(), 2);
    const rejects = (await auditEntries()).filter((e) => e.action === 'bundle.reject').map((e) => e.data.reason);
    for (const [, , reason] of cases) assert.ok(rejects.includes(reason), `${reason} audited`);

    // The same bad bundle every interval is one audit entry, not one per pull.
    const count = (await auditEntries()).length;
    await sub.pull();
    await sub.pull();
    assert.equal((await auditEntries()).length, count);

    // A good, newer bundle still goes through afterwards.
    serve = sign(bundleContentFromConfig(hqConfig('policy: { matrix: { public: { any: [private-cloud] } } }'), ['policy']), { version: 7 });
    assert.equal((await sub.pull()).outcome, 'applied');
    assert.deepEqual(side.current().config.policy.matrix.public, { any: ['private-cloud'] });
    // The overlay is the last bundle, whole (as a restart would rebuild it from the state file):
    // a bundle without dictionaries gives the receiver its own back.
    assert.deepEqual(side.current().config.classification.denyList, ['branch-secret']);
    assert.equal(sub.status().lastError, undefined);
  });

  it('a restart re-applies the stored bundle and still refuses older ones; a tampered state file is refused', async () => {
    const config = subscriberConfig('restart');
    const first = receiver();
    let serve: unknown = sign(bundleContentFromConfig(hqConfig(), ['dictionaries', 'policy']), { version: 9 });
    const sub = new BundleSubscriber({ config, trustedKeys, fetch: async () => serve, apply: first.apply, append: (e) => audit.append(e) });
    assert.equal((await sub.pull()).outcome, 'applied');

    const second = receiver();
    const restarted = new BundleSubscriber({ config, trustedKeys, fetch: async () => serve, apply: second.apply, append: (e) => audit.append(e) });
    assert.deepEqual(await restarted.restore(), { outcome: 'applied', version: 9, sha256: (serve as SignedBundle).contentSha256 });
    assert.deepEqual(second.current().config.policy.matrix.public, { any: ['on-prem'] });
    serve = sign(bundleContentFromConfig(hqConfig(), ['policy']), { version: 8 });
    const replay = await restarted.pull();
    assert.equal(replay.outcome === 'rejected' ? replay.reason : replay.outcome, 'stale_version');
    const restores = (await auditEntries()).filter((e) => e.action === 'bundle.apply' && e.data.source === 'state');
    assert.equal(restores.length, 1);

    // Someone edits the kept bundle on disk: it no longer verifies, and nothing is applied.
    const text = readFileSync(config.stateFile, 'utf8').replace('opnightjar', 'opnightjaz');
    writeFileSync(config.stateFile, text);
    const third = receiver();
    const edited = new BundleSubscriber({ config, trustedKeys, fetch: async () => serve, apply: third.apply, append: (e) => audit.append(e) });
    const outcome = await edited.restore();
    assert.equal(outcome.outcome === 'rejected' ? outcome.reason : outcome.outcome, 'content_hash_mismatch');
    assert.equal(third.applies(), 0);

    // No state file yet: nothing to restore.
    const fresh = new BundleSubscriber({ config: subscriberConfig('never'), trustedKeys, fetch: async () => serve, apply: third.apply, append: (e) => audit.append(e) });
    assert.deepEqual(await fresh.restore(), { outcome: 'none' });
  });

  it('a peer that cannot be reached changes nothing and is not an audit event; start/stop pull on a timer', async () => {
    const side = receiver();
    const config = subscriberConfig('timer');
    let calls = 0;
    let serve: () => unknown = () => {
      throw new Error('peer hq answered 503');
    };
    const sub = new BundleSubscriber({
      config,
      trustedKeys,
      fetch: async () => {
        calls++;
        return serve();
      },
      apply: side.apply,
      append: (e) => audit.append(e),
    });
    const count = (await auditEntries()).length;
    const failed = await sub.pull();
    assert.equal(failed.outcome, 'fetch_failed');
    assert.equal(sub.status().lastError?.reason, 'fetch_failed');
    assert.equal((await auditEntries()).length, count);
    assert.equal(existsSync(config.stateFile), false);

    const bundle = sign(bundleContentFromConfig(hqConfig(), ['policy']), { version: 1 });
    serve = () => bundle;
    sub.start();
    for (let i = 0; i < 100 && sub.status().appliedVersion === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    assert.equal(sub.status().appliedVersion, 1);
    const seen = calls;
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(calls, seen, 'no pulls after stop');
  });
});
