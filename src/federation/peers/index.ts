import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Principal } from '../../domain/principal.js';
import type { HeaderBag } from '../../identity/authenticate.js';
import type { FederationConfig, PeerOperation } from '../config.js';
import { PeerClient, type ClientTls } from './client.js';
import { PeerDirectory } from './directory.js';
import { FederationServer } from './server.js';
import type { AuditSink, PeerHandler } from './types.js';

export { PeerClient, type CallOptions, type ClientTls, type PeerResult } from './client.js';
export { PeerDirectory, type FanOutOptions, type FanOutResult, type PeerStatus } from './directory.js';
export { FederationServer } from './server.js';
export { CORRELATION_HEADER, DEPLOYMENT_HEADER, type AuditSink, type PeerCall, type PeerHandler, type PeerHandlerResult, type PeerIdentity } from './types.js';

export interface FederationDeps {
  readonly deploymentId: string;
  readonly zone: 'on-prem' | 'cloud';
  /** The gateway's Authenticator.authenticate: the same issuers as the public API. */
  readonly authenticate: (headers: HeaderBag) => Promise<Principal>;
  /** The audit trail; federation does not run without one. */
  readonly audit: AuditSink;
  readonly logger: Logger;
  /** Resolves a gateway-level secret reference (never a tier's) to its value. */
  readonly resolveSecret: (ref: string) => string;
}

export interface Federation {
  /** The peer listener; undefined when `federation.listen` is not set. */
  readonly server: FederationServer | undefined;
  readonly client: PeerClient;
  readonly directory: PeerDirectory;
  /** Registers what an inbound operation does (Bases, bundles). */
  handle(operation: PeerOperation, handler: PeerHandler): void;
  /** Starts the listener (if any) and the health ping; returns the listener's address. */
  start(): Promise<AddressInfo | undefined>;
  close(): Promise<void>;
}

/**
 * Builds the peer transport from the `federation:` section. Secrets are resolved
 * here, so a missing certificate fails composition, not the first call. Nothing
 * listens or pings until start().
 */
export function createFederation(config: FederationConfig, deps: FederationDeps): Federation {
  const pem = (ref: string | undefined): string | undefined => (ref === undefined ? undefined : deps.resolveSecret(ref));
  const peerCas = new Map<string, string>();
  for (const p of config.peers) {
    const ca = pem(p.ca);
    if (ca !== undefined) peerCas.set(p.id, ca);
  }
  const clientTlsConfig = config.client?.tls ?? config.listen?.tls;
  const clientTls: ClientTls | undefined =
    clientTlsConfig === undefined ? undefined : { cert: deps.resolveSecret(clientTlsConfig.cert), key: deps.resolveSecret(clientTlsConfig.key), ca: pem(clientTlsConfig.ca) };

  let server: FederationServer | undefined;
  if (config.listen !== undefined) {
    const { tls } = config.listen;
    // The handshake trusts every peer's CA; which peer a certificate may speak for is checked after it.
    const trust = [pem(tls.ca), ...peerCas.values()].filter((c): c is string => c !== undefined).join('\n');
    server = new FederationServer({
      deploymentId: deps.deploymentId,
      host: config.listen.host,
      port: config.listen.port,
      tls: { cert: deps.resolveSecret(tls.cert), key: deps.resolveSecret(tls.key), ca: trust },
      peers: config.peers,
      peerCas,
      authenticate: deps.authenticate,
      audit: deps.audit,
      logger: deps.logger,
      maxMessageBytes: config.maxMessageBytes,
      auditHealthChecks: config.auditHealthChecks,
    });
    server.handle('health', async () => ({ body: { deploymentId: deps.deploymentId, zone: deps.zone } }));
  }

  let directory: PeerDirectory | undefined;
  const client = new PeerClient({
    deploymentId: deps.deploymentId,
    peers: config.peers,
    tls: clientTls,
    peerCas,
    audit: deps.audit,
    maxMessageBytes: config.maxMessageBytes,
    auditHealthChecks: config.auditHealthChecks,
    onResult: (id, result) => directory?.observe(id, result),
  });
  directory = new PeerDirectory(config.peers, client, { healthIntervalMs: config.healthIntervalMs });
  const dir = directory;

  return {
    server,
    client,
    directory: dir,
    handle: (operation, handler) => {
      if (operation === 'health') throw new Error('health is built in');
      server?.handle(operation, handler);
    },
    start: async () => {
      const address = await server?.start();
      dir.start();
      return address;
    },
    close: async () => {
      await dir.stop();
      await server?.close();
      await client.close();
    },
  };
}
