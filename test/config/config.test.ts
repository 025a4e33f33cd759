import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, loadConfigText, parseConfig } from '../../src/config/loader.js';
import { repoRoot } from '../helpers/paths.js';

const backend = (over: string): string => `
  - id: b
    tier: on-prem
    region: eu
    protocol: openai
    baseUrl: http://127.0.0.1:1/v1
    maxConcurrency: 4
    models: [{ id: m }]
${over}`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'x.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('config', () => {
  it('names the path and the reason', () => {
    const found = problems(`backends:${backend('')}${backend('').replace('id: b', 'id: c')}
  - id: d
    tier: cloud
    region: eu
    protocol: openai
    baseUrl: http://127.0.0.1:1/v1
    models: [{ id: m }]
`);
    assert.deepEqual(found, ['backends[2].tier: expected one of on-prem|private-cloud|public-api']);
  });

  it('refuses inline secrets, unknown keys and bad URLs', () => {
    const found = problems(`backends:
  - id: x
    tier: public-api
    region: us
    protocol: openai
    baseUrl: file:///etc/passwd
    credentials: sk-live-abc
    colour: blue
    models: [{ id: m, capability: genius }]
`);
    assert.ok(found.includes('backends[0].baseUrl: must be an http(s) URL'), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('backends[0].credentials: must be a reference')));
    assert.ok(found.includes('backends[0]: unknown key "colour"'));
    assert.ok(found.includes('backends[0].models[0].capability: expected one of basic|mid|frontier'));
    assert.ok(!found.join('\n').includes('sk-live-abc'), 'the inline secret is never echoed');
  });

  it('requires maxConcurrency on-prem only, and apiVersion for Azure', () => {
    const found = problems(`backends:
  - { id: a, tier: on-prem, region: eu, protocol: openai, baseUrl: 'http://h/v1', models: [{ id: m }] }
  - { id: b, tier: public-api, region: eu, protocol: azure-openai, baseUrl: 'http://h', maxConcurrency: 3, models: [{ id: m }] }
`);
    assert.deepEqual(found.sort(), [
      'backends[0].maxConcurrency: is required for an on-prem backend',
      'backends[1].apiVersion: is required for protocol azure-openai',
      'backends[1].maxConcurrency: applies to on-prem backends only',
    ]);
  });

  it('keeps each tier to its own secret source', () => {
    const found = problems(`backends:
  - { id: a, tier: on-prem, region: eu, protocol: openai, baseUrl: 'http://h/v1', maxConcurrency: 1, credentials: 'env:PERIMETER_PUBLIC_API_KEY', models: [{ id: m }] }
  - { id: b, tier: public-api, region: eu, protocol: openai, baseUrl: 'http://h/v1', credentials: 'file:/etc/key', models: [{ id: m }] }
`);
    assert.deepEqual(found, [
      'backends[0].credentials: env var must start with PERIMETER_ONPREM_, the prefix of the on-prem secret source',
      'backends[1].credentials: file references need fileDir to be set as part of the public-api secret source',
    ]);
    const overlap = problems(`secrets:
  on-prem: { envPrefix: SHARED_ }
  public-api: { envPrefix: SHARED_PUBLIC_ }
backends:${backend('')}`);
    assert.deepEqual(overlap, ['secrets.public-api.envPrefix: overlaps the on-prem prefix; tiers must not share secrets']);
  });

  it('resolves secrets only from the backend tier, and never prints them', () => {
    const env = { PERIMETER_ONPREM_TOKEN: 'onprem-secret', PERIMETER_PUBLIC_API_TOKEN: 'public-secret' };
    const loaded = loadConfigText(`backends:${backend('    credentials: env:PERIMETER_ONPREM_TOKEN')}`, 't.yaml', {}, env);
    const secret = loaded.secrets['on-prem'].resolve('env:PERIMETER_ONPREM_TOKEN');
    assert.equal(secret.reveal(), 'onprem-secret');
    assert.equal(JSON.stringify({ secret }), '{"secret":"[redacted]"}');
    assert.equal(`${String(secret)}`, '[redacted]');
    assert.ok(!inspect({ secret }).includes('onprem-secret'));
    assert.throws(() => loaded.secrets['on-prem'].resolve('env:PERIMETER_PUBLIC_API_TOKEN'), /outside|must start with/);
    assert.throws(() => loaded.secrets['public-api'].resolve('env:PERIMETER_ONPREM_TOKEN'), /must start with/);
    assert.throws(() => loaded.secrets['on-prem'].resolve('env:PERIMETER_ONPREM_MISSING'), /not set/);
  });

  it('reads file secrets only under the tier directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perimeter-secrets-'));
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const loaded = loadConfigText(`secrets:\n  on-prem: { envPrefix: ONPREM_, fileDir: ${dir} }\nbackends:${backend(`    credentials: file:${dir}/token`)}`, 't.yaml', {}, {});
    assert.equal(loaded.secrets['on-prem'].resolve(`file:${dir}/token`).reveal(), 'from-file');
    assert.throws(() => loaded.secrets['on-prem'].resolve(`file:${dir}/../etc/passwd`), /must be under/);
    assert.throws(() => loaded.secrets['public-api'].resolve(`file:${dir}/token`), /fileDir/);
  });

  it('is frozen after loading', () => {
    const config = parseConfig(`backends:${backend('')}`);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.backends[0]?.models[0]));
    assert.throws(() => {
      (config.server as { port: number }).port = 1;
    }, TypeError);
  });

  it('applies defaults and the port overrides', () => {
    const text = `backends:${backend('')}`;
    assert.equal(loadConfigText(text, 't', {}, {}).config.server.port, 8080);
    assert.equal(loadConfigText(text, 't', {}, { PERIMETER_PORT: '9999' }).config.server.port, 9999);
    assert.equal(loadConfigText(text, 't', { port: 7777 }, { PERIMETER_PORT: '9999' }).config.server.port, 7777);
    assert.throws(() => loadConfigText(text, 't', {}, { PERIMETER_PORT: 'eighty' }), /PERIMETER_PORT/);
    const config = loadConfigText(text, 't', {}, {}).config;
    assert.deepEqual(config.backends[0]?.timeouts, { connectMs: 5000, firstByteMs: 60000, totalMs: 600000 });
    assert.equal(config.backends[0]?.models[0]?.capability, 'basic');
  });

  it('reports YAML syntax errors and unreadable files', () => {
    assert.ok(problems('backends: [').some((p) => p.startsWith('yaml:')));
    assert.throws(() => loadConfig('/nonexistent/perimeter.yaml'), /cannot read file \(ENOENT\)/);
  });

  it('accepts the shipped examples', () => {
    for (const name of ['demo.yaml', 'reference.yaml']) {
      const { config } = loadConfig(join(repoRoot, 'examples', name), {}, {});
      assert.ok(config.backends.length >= 3, name);
    }
  });
});
