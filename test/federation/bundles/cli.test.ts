import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliPath } from '../../helpers/paths.js';
import { HQ_SHARED_YAML, tempDir } from './support.js';

function perimeter(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, 'bundles', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('perimeter bundles CLI', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('keygen, sign and verify; a changed bundle or another key fails verify', () => {
    const keys = join(tmp.dir, 'keys');
    const gen = perimeter('keygen', '--out', keys);
    assert.equal(gen.status, 0, gen.stderr);
    assert.match(gen.stdout, /fingerprint \(a keyId you may use\): [0-9a-f]{16}/);
    assert.equal(statSync(join(keys, 'bundle-signing.key.pem')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(keys, 'bundle-signing.key.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    assert.notEqual(perimeter('keygen', '--out', keys).status, 0, 'an existing key is never overwritten');

    const config = join(tmp.dir, 'hq.yaml');
    writeFileSync(
      config,
      `deployment: { id: hq }\nbackends:\n  - { id: a, tier: on-prem, region: eu, protocol: openai, baseUrl: "http://127.0.0.1:9/v1", maxConcurrency: 1, models: [{ id: m }] }\n${HQ_SHARED_YAML}`,
    );
    const signed = perimeter('sign', '--config', config, '--key', join(keys, 'bundle-signing.key.pem'), '--key-id', 'hq-1', '--version', '4');
    assert.equal(signed.status, 0, signed.stderr);
    const bundle = JSON.parse(signed.stdout) as { publisher: string; version: number; content: { policy?: unknown; classification?: { denyList: string[] } } };
    assert.equal(bundle.publisher, 'hq');
    assert.equal(bundle.version, 4);
    assert.deepEqual(bundle.content.classification?.denyList, ['opnightjar']);
    const file = join(tmp.dir, 'bundle.json');
    writeFileSync(file, signed.stdout);

    const pub = join(keys, 'bundle-signing.pub.pem');
    const ok = perimeter('verify', '--bundle', file, '--public-key', pub);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: perimeter\.bundle\/v1 publisher=hq version=4 keyId=hq-1 sha256=[0-9a-f]{64} parts=classification,policy/);
    const wrongId = perimeter('verify', '--bundle', file, '--public-key', pub, '--key-id', 'hq-2');
    assert.equal(wrongId.status, 1);
    assert.match(wrongId.stderr, /rejected: unknown_key/);

    writeFileSync(file, signed.stdout.replace('opnightjar', 'opnightjaz'));
    const changed = perimeter('verify', '--bundle', file, '--public-key', pub);
    assert.equal(changed.status, 1);
    assert.match(changed.stderr, /rejected: content_hash_mismatch/);

    perimeter('keygen', '--out', join(tmp.dir, 'other'));
    writeFileSync(file, signed.stdout);
    const other = perimeter('verify', '--bundle', file, '--public-key', join(tmp.dir, 'other', 'bundle-signing.pub.pem'));
    assert.equal(other.status, 1);
    assert.match(other.stderr, /rejected: bad_signature/);

    const policyOnly = perimeter('sign', '--config', config, '--key', join(keys, 'bundle-signing.key.pem'), '--key-id', 'hq-1', '--version', '5', '--include', 'policy');
    assert.equal(policyOnly.status, 0, policyOnly.stderr);
    assert.equal((JSON.parse(policyOnly.stdout) as typeof bundle).content.classification, undefined);
  });

  it('names what is missing or wrong', () => {
    const r = perimeter('sign', '--config', 'x.yaml', '--key', 'k.pem', '--key-id', 'k', '--version', '0');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--version must be a positive integer/);
    assert.match(perimeter('frob').stderr, /unknown subcommand "frob"/);
    const notEd = join(tmp.dir, 'not-a-key.pem');
    writeFileSync(notEd, 'hello');
    const bad = perimeter('verify', '--bundle', notEd, '--public-key', notEd);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /public key is not a PEM public key/);
  });
});
