import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendConfig } from '../../src/config/schema.js';
import { SecretSource } from '../../src/config/secrets.js';
import type { ChatRequest, Chunk, Message } from '../../src/domain/chat.js';
import { GatewayError, type ErrorCode } from '../../src/domain/errors.js';
import type { Tier } from '../../src/domain/tier.js';
import type { CallContext } from '../../src/providers/provider.js';
import type { ReceivedRequest, SimulatorHandle } from '../../src/simulator/index.js';
import { openSslPki } from '../../src/cli/dev-pki.js';

export const ENV_PREFIX: Record<Tier, string> = {
  'on-prem': 'PERIMETER_ONPREM_',
  'private-cloud': 'PERIMETER_PRIVATE_CLOUD_',
  'public-api': 'PERIMETER_PUBLIC_API_',
};

export function secretSource(tier: Tier, env: Record<string, string> = {}, fileDir?: string): SecretSource {
  return new SecretSource(tier, { envPrefix: ENV_PREFIX[tier], fileDir }, env);
}

export function backend(overrides: Partial<BackendConfig> & Pick<BackendConfig, 'protocol' | 'baseUrl'>): BackendConfig {
  return {
    id: 'test-backend',
    tier: 'public-api',
    region: 'test',
    timeouts: { connectMs: 2_000, firstByteMs: 5_000, totalMs: 10_000 },
    connections: 4,
    models: [{ id: 'm', kind: 'chat', capability: 'basic', contextWindow: 8192, price: { inputPer1M: 0, outputPer1M: 0 } }],
    ...overrides,
  };
}

export function ctx(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, requestId: 'req-test' };
}

export function user(text: string): Message {
  return { role: 'user', content: [{ type: 'text', text }] };
}

export function chatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'client-model',
    messages: [user('hello there')],
    stream: false,
    includeUsage: false,
    protocolParams: {},
    ...overrides,
  };
}

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

export async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

export function textOfChunks(chunks: Chunk[]): string {
  let text = '';
  for (const chunk of chunks) if (chunk.type === 'text') text += chunk.text;
  return text;
}

/** Asserts a rejection is a GatewayError with the given code and returns it for further checks. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}

export function lastReceived(sim: SimulatorHandle): ReceivedRequest {
  const all = sim.received();
  const last = all[all.length - 1];
  assert.ok(last !== undefined, 'the simulator received nothing');
  return last;
}

/** Polls until the predicate holds; servers learn about a closed socket asynchronously. */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface TestPki {
  dir: string;
  caPath: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCertPath: string;
  clientKeyPath: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here, for "wrong CA" cases. */
  otherCaPath: string;
  cleanup(): void;
}

/** A throwaway CA, a server cert for 127.0.0.1/localhost and a client cert. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-pki-'));
  const pki = openSslPki(dir, 2);
  pki.ca('ca');
  pki.ca('other-ca');
  pki.issue('server', 'ca', ['serverAuth']);
  pki.issue('client', 'ca', ['clientAuth']);
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  return {
    dir,
    caPath: join(dir, 'ca.crt'),
    ca: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCertPath: join(dir, 'client.crt'),
    clientKeyPath: join(dir, 'client.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    otherCaPath: join(dir, 'other-ca.crt'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
