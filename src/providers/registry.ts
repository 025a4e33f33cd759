import type { BackendConfig } from '../config/schema.js';
import type { Secret, SecretSource } from '../config/secrets.js';
import { AnthropicProvider } from './anthropic/provider.js';
import { HttpClient, ProviderConfigError, type TlsMaterial } from './http-client.js';
import { azureOpenAiEndpoint, openAiEndpoint } from './openai/endpoint.js';
import { OpenAiProvider } from './openai/provider.js';
import type { Provider } from './provider.js';

export { ProviderConfigError } from './http-client.js';

/** Builds one protocol's provider from a backend, its connection pool and its resolved credential. */
export type ProviderFactory = (backend: BackendConfig, http: HttpClient, credential: Secret | undefined) => Provider;

const FACTORIES: ReadonlyMap<string, ProviderFactory> = new Map<string, ProviderFactory>([
  ['openai', (backend, http, credential) => new OpenAiProvider(backend.id, http, openAiEndpoint(http.basePath, credential))],
  [
    'azure-openai',
    (backend, http, credential) => {
      if (backend.apiVersion === undefined) throw new ProviderConfigError(`backend ${backend.id}: azure-openai needs apiVersion`);
      return new OpenAiProvider(backend.id, http, azureOpenAiEndpoint(http.basePath, backend.apiVersion, credential));
    },
  ],
  ['anthropic', (backend, http, credential) => new AnthropicProvider(backend.id, http, credential)],
]);

export function registeredProtocols(): string[] {
  return [...FACTORIES.keys()];
}

/**
 * The one way to get a Provider. Secrets are resolved here, once, from the source
 * of the backend's own tier; a source of any other tier is refused outright, so a
 * wiring mistake can never hand an on-prem backend a cloud credential or the reverse.
 */
export function createProvider(backend: BackendConfig, secrets: SecretSource): Provider {
  if (secrets.tier !== backend.tier) {
    throw new ProviderConfigError(`backend ${backend.id} is ${backend.tier} but was given the ${secrets.tier} secret source`);
  }
  const factory = FACTORIES.get(backend.protocol);
  if (factory === undefined) {
    throw new ProviderConfigError(
      `backend ${backend.id}: unknown protocol "${String(backend.protocol)}" (known: ${registeredProtocols().join(', ')})`,
    );
  }
  const credential = backend.credentials === undefined ? undefined : secrets.resolve(backend.credentials);
  const http = new HttpClient({
    backendId: backend.id,
    baseUrl: backend.baseUrl,
    connections: backend.connections,
    timeouts: backend.timeouts,
    tls: resolveTls(backend, secrets),
  });
  try {
    return factory(backend, http, credential);
  } catch (err) {
    void http.close();
    throw err;
  }
}

function resolveTls(backend: BackendConfig, secrets: SecretSource): TlsMaterial | undefined {
  const tls = backend.tls;
  if (tls === undefined) return undefined;
  // resolveRaw keeps PEM bytes exactly; the key stays inside this object and the pool.
  return {
    ca: tls.ca === undefined ? undefined : secrets.resolveRaw(tls.ca).reveal(),
    cert: tls.cert === undefined ? undefined : secrets.resolveRaw(tls.cert).reveal(),
    key: tls.key === undefined ? undefined : secrets.resolveRaw(tls.key).reveal(),
    servername: tls.servername,
  };
}
