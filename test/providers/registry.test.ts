import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BackendConfig } from '../../src/config/schema.js';
import { SecretError } from '../../src/config/secrets.js';
import { ProviderConfigError } from '../../src/providers/http-client.js';
import { createProvider, registeredProtocols } from '../../src/providers/registry.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { backend, chatRequest, ctx, lastReceived, secretSource } from './support.js';

describe('provider registry', () => {
  let sim: SimulatorHandle;
  before(async () => {
    sim = await startSimulator({ name: 'registry' });
  });
  after(() => sim.close());

  it('knows the three protocols', () => {
    assert.deepEqual(registeredProtocols().sort(), ['anthropic', 'azure-openai', 'openai']);
  });

  it('refuses a secret source of another tier, in both directions', () => {
    const onPrem = backend({ tier: 'on-prem', protocol: 'openai', baseUrl: `${sim.url}/v1`, maxConcurrency: 4 });
    assert.throws(() => createProvider(onPrem, secretSource('public-api')), ProviderConfigError);
    assert.throws(() => createProvider(onPrem, secretSource('private-cloud')), /on-prem but was given the private-cloud secret source/);
    const cloud = backend({ tier: 'public-api', protocol: 'anthropic', baseUrl: sim.url });
    assert.throws(() => createProvider(cloud, secretSource('on-prem')), /public-api but was given the on-prem secret source/);
  });

  it('refuses even when the credential would resolve in the wrong source', () => {
    const cloud = backend({ protocol: 'openai', baseUrl: sim.url, credentials: 'env:PERIMETER_ONPREM_KEY' });
    assert.throws(() => createProvider(cloud, secretSource('on-prem', { PERIMETER_ONPREM_KEY: 'onprem-secret' })), ProviderConfigError);
  });

  it('throws loudly for an unknown protocol', () => {
    const odd = { ...backend({ protocol: 'openai', baseUrl: sim.url }), protocol: 'gopher' } as unknown as BackendConfig;
    assert.throws(() => createProvider(odd, secretSource('public-api')), /unknown protocol "gopher"/);
  });

  it('resolves credentials once, at construction, from the tier source', () => {
    const b = backend({ protocol: 'openai', baseUrl: sim.url, credentials: 'env:PERIMETER_PUBLIC_API_MISSING' });
    assert.throws(() => createProvider(b, secretSource('public-api')), SecretError);
  });

  it('works without credentials (many on-prem servers need none) and sends no auth header', async () => {
    const provider = createProvider(
      backend({ tier: 'on-prem', protocol: 'openai', baseUrl: `${sim.url}/v1`, maxConcurrency: 2 }),
      secretSource('on-prem'),
    );
    try {
      await provider.chat(chatRequest(), 'local', ctx());
      const received = lastReceived(sim);
      assert.equal(received.headers['authorization'], undefined);
      assert.equal(received.headers['api-key'], undefined);
      assert.equal(received.headers['x-api-key'], undefined);
      assert.equal(provider.backendId, 'test-backend');
    } finally {
      await provider.close();
    }
  });

  it('rejects base URLs that would be silently rewritten', () => {
    const source = secretSource('public-api');
    assert.throws(() => createProvider(backend({ protocol: 'openai', baseUrl: 'http://u:p@127.0.0.1:1/v1' }), source), /credentials/);
    assert.throws(() => createProvider(backend({ protocol: 'openai', baseUrl: 'http://127.0.0.1:1/v1?x=1' }), source), /query/);
  });

  it('requires apiVersion for azure-openai', () => {
    assert.throws(() => createProvider(backend({ protocol: 'azure-openai', baseUrl: sim.url }), secretSource('public-api')), /apiVersion/);
  });
});
