import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Authenticator } from '../../../src/identity/authenticate.js';
import { authSchema } from '../../../src/identity/config.js';
import { resolveGatewaySecret } from '../../../src/identity/gateway-secret.js';
import { JwtVerifier } from '../../../src/identity/jwt.js';
import { federationSchema, type FederationConfigInput } from '../../../src/federation/config.js';
import { createFederation, type Federation } from '../../../src/federation/peers/index.js';
import { AuditLog, type AuditEntry } from '../../../src/record/audit.js';
import { SqliteAuditStore } from '../../../src/record/sqlite/sqlite-store.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { openSslPki } from '../../../src/cli/dev-pki.js';
import { JwksServer, sign, testKey, type TestKey } from '../../identity/jwks-server.js';

export const ISSUER = 'https://sso.federation.test';
export const AUDIENCE = 'perimeter';

/** Certificates for two deployments with their own CAs, plus the ones that must be refused. */
export interface FederationPki {
  readonly dir: string;
  /** `file:` reference to `<name>.crt` / `<name>.key` in the PKI directory. */
  ref(name: string, kind: 'crt' | 'key'): string;
  cleanup(): void;
}

/**
 * ca-a issues `a` (deployment a) and `stranger` (a valid certificate naming no peer)
 * and `forged-b` (claims to be b, but b's certificates come from ca-b); ca-b issues `b`;
 * rogue-ca, trusted by nobody, issues `rogue-a` (claims to be a).
 */
export function makeFederationPki(): FederationPki {
  const dir = mkdtempSync(join(tmpdir(), 'perimeter-fed-pki-'));
  const pki = openSslPki(dir, 2);
  for (const ca of ['ca-a', 'ca-b', 'rogue-ca']) pki.ca(ca);
  // Each deployment's certificate serves its listener and identifies it when it calls out.
  const both = ['serverAuth', 'clientAuth'] as const;
  pki.issue('a', 'ca-a', both);
  pki.issue('b', 'ca-b', both);
  pki.issue('stranger', 'ca-a', both);
  pki.issue('forged-b', 'ca-a', both, 'b');
  pki.issue('rogue-a', 'rogue-ca', both, 'a');
  return {
    dir,
    ref: (name, kind) => `file:${join(dir, `${name}.${kind}`)}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const TIER_SOURCES = {
  'on-prem': { envPrefix: 'PERIMETER_ONPREM_' },
  'private-cloud': { envPrefix: 'PERIMETER_PRIVATE_CLOUD_' },
  'public-api': { envPrefix: 'PERIMETER_PUBLIC_API_' },
} as const;

/** The gateway's own resolver, so federation secrets are held to the same rule as other gateway secrets. */
export function resolveSecret(ref: string): string {
  return resolveGatewaySecret(ref, {}, TIER_SOURCES).reveal();
}

/** An issuer both deployments trust, as the same OIDC provider would be configured on each side. */
export class TestIssuer {
  readonly #jwks = new JwksServer();
  #key: TestKey | undefined;
  #url: string | undefined;

  async start(): Promise<void> {
    this.#key = await testKey('fed-k1');
    this.#jwks.keys = [this.#key.jwk];
    this.#url = await this.#jwks.start();
  }

  /** A fresh Authenticator, as each deployment builds its own from the same issuer config. */
  authenticator(): Authenticator {
    if (this.#url === undefined) throw new Error('issuer not started');
    const auth = authSchema.parse({ issuers: [{ name: 'sso', issuer: ISSUER, jwksUrl: this.#url, audience: AUDIENCE, defaultRoles: ['user'] }] });
    return new Authenticator({ required: true, jwt: new JwtVerifier(auth.issuers) });
  }

  async token(subject: string): Promise<string> {
    if (this.#key === undefined) throw new Error('issuer not started');
    return sign(this.#key, { issuer: ISSUER, audience: AUDIENCE, subject });
  }

  /** Signed by a key the issuer never published. */
  async forgedToken(subject: string): Promise<string> {
    const other = await testKey('fed-k1');
    return sign(other, { issuer: ISSUER, audience: AUDIENCE, subject });
  }

  async stop(): Promise<void> {
    await this.#jwks.stop();
  }
}

export interface Deployment {
  readonly id: string;
  readonly federation: Federation;
  readonly audit: AuditLog;
  readonly authenticator: Authenticator;
  /** The listener's URL, once started. */
  url: string;
  entries(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export function silentLogger(): Logger {
  return createLogger('silent');
}

/** One deployment: a real SQLite audit trail, the issuer's authenticator and the federation from config. */
export async function deployment(
  id: string,
  zone: 'on-prem' | 'cloud',
  config: FederationConfigInput,
  issuer: TestIssuer,
  dir: string,
  logger: Logger = silentLogger(),
): Promise<Deployment> {
  const store = new SqliteAuditStore(join(dir, `${id}-audit.db`));
  await store.migrate();
  const audit = new AuditLog(store, { deploymentId: id });
  const authenticator = issuer.authenticator();
  const federation = createFederation(federationSchema.parse(config), {
    deploymentId: id,
    zone,
    authenticate: (headers) => authenticator.authenticate(headers),
    audit,
    logger,
    resolveSecret,
  });
  const d: Deployment = {
    id,
    federation,
    audit,
    authenticator,
    url: '',
    entries: async () => {
      const out: AuditEntry[] = [];
      for await (const e of audit.entries()) out.push(e);
      return out;
    },
    close: async () => {
      await federation.close();
      await store.close();
    },
  };
  const address = await federation.start();
  if (address !== undefined) d.url = `https://127.0.0.1:${address.port}`;
  return d;
}
