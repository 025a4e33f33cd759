import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { configSchema, type BackendConfig } from '../../src/config/schema.js';
import { SecretError, SecretSource } from '../../src/config/secrets.js';
import { TIERS, type Tier } from '../../src/domain/tier.js';
import { resolveGatewaySecret } from '../../src/identity/gateway-secret.js';
import { createProvider, ProviderConfigError } from '../../src/providers/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'perimeter-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SOURCES: Record<Tier, { envPrefix: string; fileDir: string }> = {
  'on-prem': { envPrefix: 'PERIMETER_ONPREM_', fileDir: join(dir, 'onprem') },
  'private-cloud': { envPrefix: 'PERIMETER_PRIVATE_CLOUD_', fileDir: join(dir, 'private') },
  'public-api': { envPrefix: 'PERIMETER_PUBLIC_API_', fileDir: join(dir, 'public') },
};
for (const s of Object.values(SOURCES)) mkdirSync(s.fileDir);
writeFileSync(join(SOURCES['public-api'].fileDir, 'openai.key'), 'cloud-secret-file');
writeFileSync(join(SOURCES['on-prem'].fileDir, 'vllm.key'), 'onprem-secret-file');

/** Every tier's credentials present in one process environment, as in a real deployment. */
const ENV = {
  PERIMETER_ONPREM_VLLM_KEY: 'onprem-secret',
  PERIMETER_PRIVATE_CLOUD_AZURE_KEY: 'private-secret',
  PERIMETER_PUBLIC_API_OPENAI_KEY: 'cloud-secret',
  PERIMETER_AUTH_PEPPER: 'pepper-pepper-pepper-pepper',
};

const source = (t: Tier): SecretSource => new SecretSource(t, SOURCES[t], ENV);

function backend(tier: Tier, credentials: string): BackendConfig {
  return {
    id: `b-${tier}`,
    tier,
    region: 'r',
    protocol: 'openai',
    baseUrl: 'http://127.0.0.1:9/v1',
    credentials,
    ...(tier === 'on-prem' ? { maxConcurrency: 1 } : {}),
    timeouts: { connectMs: 100, firstByteMs: 100, totalMs: 100 },
    connections: 1,
    models: [{ id: 'm', kind: 'chat', capability: 'basic', contextWindow: 8192, price: { inputPer1M: 0, outputPer1M: 0 } }],
  };
}

describe('credential separation between tiers', () => {
  it('an on-prem backend cannot name a cloud credential, by env or by file, and vice versa', () => {
    const cloudRefs = ['env:PERIMETER_PUBLIC_API_OPENAI_KEY', `file:${join(SOURCES['public-api'].fileDir, 'openai.key')}`];
    for (const ref of cloudRefs) {
      assert.throws(() => source('on-prem').resolve(ref), SecretError);
      assert.throws(() => createProvider(backend('on-prem', ref), source('on-prem')), SecretError);
    }
    const onPremRefs = ['env:PERIMETER_ONPREM_VLLM_KEY', `file:${join(SOURCES['on-prem'].fileDir, 'vllm.key')}`];
    for (const ref of onPremRefs) {
      assert.throws(() => source('public-api').resolve(ref), SecretError);
      assert.throws(() => source('private-cloud').resolve(ref), SecretError);
    }
  });

  it('path tricks do not escape a tier directory', () => {
    const sneaky = `file:${SOURCES['on-prem'].fileDir}/../public/openai.key`;
    assert.throws(() => source('on-prem').resolve(sneaky), /must be under/);
  });

  it('handing a backend another tier source is refused before any secret is read', () => {
    for (const a of TIERS) {
      for (const b of TIERS) {
        if (a === b) continue;
        const ref = `env:${SOURCES[a].envPrefix}X`;
        assert.throws(() => createProvider(backend(a, ref), source(b)), ProviderConfigError, `${a} backend with ${b} source`);
      }
    }
  });

  it('the config refuses a backend whose credential lies in another tier source', () => {
    const r = configSchema.safeParse({
      backends: [{ id: 'x', tier: 'on-prem', region: 'r', protocol: 'openai', baseUrl: 'http://h/v1', maxConcurrency: 1, credentials: 'env:PERIMETER_PUBLIC_API_OPENAI_KEY', models: [{ id: 'm' }] }],
    });
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /on-prem secret source/);
  });

  it('gateway secrets (the key pepper) live outside every tier source, and no tier can read them', () => {
    assert.equal(resolveGatewaySecret('env:PERIMETER_AUTH_PEPPER', ENV, SOURCES).reveal(), ENV.PERIMETER_AUTH_PEPPER);
    for (const t of TIERS) {
      assert.throws(() => source(t).resolve('env:PERIMETER_AUTH_PEPPER'), SecretError);
      assert.throws(() => resolveGatewaySecret(`env:${SOURCES[t].envPrefix}VLLM_KEY`, ENV, SOURCES), /inside the .* secret source/);
    }
    assert.throws(() => resolveGatewaySecret(`file:${join(SOURCES['public-api'].fileDir, 'openai.key')}`, ENV, SOURCES), /inside the public-api secret source/);
  });

  it('a resolved secret never prints', () => {
    const s = source('public-api').resolve('env:PERIMETER_PUBLIC_API_OPENAI_KEY');
    assert.equal(`${s}`, '[redacted]');
    assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  });
});
