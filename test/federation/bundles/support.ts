import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/loader.js';
import type { Config } from '../../../src/config/schema.js';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
  readonly privatePem: string;
}

export function ed25519Pair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    publicKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-bundles-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The new rules HQ shares: public data stays on-prem, and a project codename is a term to find. */
export const HQ_SHARED_YAML = `
classification:
  denyList: [opnightjar]
  custom:
    dictionaries:
      - { entity: PROJECT_CODENAME, terms: [bluefalcon, redkite] }
policy:
  matrix:
    public: { any: [on-prem] }
`;

/** A publishing deployment's whole config; its backends do not matter to the bundle. */
export function hqConfig(shared = HQ_SHARED_YAML): Config {
  return parseConfig(`
deployment: { id: hq }
backends:
  - { id: hq-local, tier: on-prem, region: eu, protocol: openai, baseUrl: "http://127.0.0.1:9/v1", maxConcurrency: 4, models: [{ id: m }] }
${shared}
`);
}
