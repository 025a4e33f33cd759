import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/loader.js';
import { compose } from '../../src/compose.js';
import { listen, type RunningGateway } from '../../src/main.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** The key test clients send; the test stacks accept it, and anonymous callers too. */
export const TEST_KEY = 'sk-perimeter-test-0123456789';
const TEST_AUTH = `auth: { required: false, keys: [{ id: tests, insecurePlaintext: ${TEST_KEY}, owner: tests }] }`;

export interface TestStack {
  gateway: RunningGateway;
  url: string;
  sims: { onPrem: SimulatorHandle; privateCloud: SimulatorHandle; publicApi: SimulatorHandle };
  close(): Promise<void>;
}

export interface StackOptions {
  sim?: SimulatorOptions;
  bodyLimitBytes?: number;
  firstByteMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Top-level YAML sections appended to the config (policy, routing, classification). */
  extraYaml?: string;
  /** The auth section; by default anonymous callers are let in, as these tests are not about identity. */
  authYaml?: string;
}

/**
 * Three simulated tiers and a gateway in front of them, all on ephemeral loopback
 * ports. The same backend layout as the demo: on-prem vLLM (OpenAI protocol),
 * private-cloud Azure OpenAI, public-api OpenAI and Anthropic.
 */
export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const onPrem = await startSimulator({ name: 'on-prem', ...options.sim });
  const privateCloud = await startSimulator({ name: 'private-cloud', ...options.sim });
  const publicApi = await startSimulator({ name: 'public-api', ...options.sim });
  const timeouts = `    timeouts: { connectMs: 2000, firstByteMs: ${options.firstByteMs ?? 10_000}, totalMs: 30000 }\n`;
  const yaml = `
server: { host: 127.0.0.1, port: 0, bodyLimitBytes: ${options.bodyLimitBytes ?? 1048576}, drainTimeoutMs: 2000 }
logging: { level: silent }
${options.authYaml ?? TEST_AUTH}
backends:
  - id: onprem-vllm
    tier: on-prem
    region: eu-central
    protocol: openai
    baseUrl: ${onPrem.url}/v1
    maxConcurrency: 8
${timeouts}    models:
      - { id: llama-3.1-8b-instruct, capability: basic }
      - { id: bge-m3, kind: embedding }
  - id: private-azure
    tier: private-cloud
    region: eu-west
    protocol: azure-openai
    apiVersion: 2024-10-21
    baseUrl: ${privateCloud.url}
${timeouts}    models:
      - { id: gpt-4o, upstream: gpt-4o-eu-deployment, capability: frontier }
      - { id: text-embedding-3-small, upstream: embed-eu, kind: embedding }
  - id: public-openai
    tier: public-api
    region: us-east
    protocol: openai
    baseUrl: ${publicApi.url}/v1
${timeouts}    models:
      - { id: gpt-4.1-mini, capability: mid }
  - id: public-anthropic
    tier: public-api
    region: us-east
    protocol: anthropic
    baseUrl: ${publicApi.url}
${timeouts}    models:
      - { id: claude-sonnet-5-5, capability: frontier }
${options.extraYaml ?? ''}
${options.extraYaml?.includes('records:') === true ? '' : recordsYaml()}
`;
  const loaded = loadConfigText(yaml, 'test.yaml', {}, options.env ?? {});
  const gateway = await listen(await compose(loaded, { logger: createLogger('silent') }));
  const sims = { onPrem, privateCloud, publicApi };
  return {
    gateway,
    url: gateway.url,
    sims,
    close: async () => {
      await gateway.shutdown();
      await Promise.all([onPrem.close(), privateCloud.close(), publicApi.close()]);
    },
  };
}

/** Records go to a fresh SQLite file per gateway, never into the working directory. */
export function recordsYaml(): string {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-records-'));
  return `records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { spillPath: ${join(dir, 'spill.jsonl')} } }`;
}

/** Polls a condition a bounded number of times; the loop always ends. */
export async function eventually(check: () => boolean, attempts = 100, intervalMs = 20): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return check();
}

export interface CustomStack {
  url: string;
  gateway: RunningGateway;
  close(): Promise<void>;
}

/** A gateway on a config written by the test; `sims` are closed with it. */
export async function startGateway(yaml: string, sims: readonly SimulatorHandle[] = []): Promise<CustomStack> {
  const loaded = loadConfigText(yaml.includes('records:') ? yaml : `${yaml}\n${recordsYaml()}\n`, 'test.yaml', {}, {});
  const gateway = await listen(await compose(loaded, { logger: createLogger('silent') }));
  return {
    url: gateway.url,
    gateway,
    close: async () => {
      await gateway.shutdown();
      await Promise.all(sims.map((s) => s.close()));
    },
  };
}
