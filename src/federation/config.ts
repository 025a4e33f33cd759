import { z } from 'zod';
import { secretRef } from '../config/secret-ref.js';

/**
 * What one deployment may ask of another. 'health' and 'bundles.pull' are
 * deployment-level (no end user needed); every other operation runs as the end user
 * whose token travels with the call.
 */
export const PEER_OPERATIONS = ['health', 'models', 'bases.list', 'bases.search', 'bases.retrieve', 'bundles.pull', 'bases.move'] as const;
export type PeerOperation = (typeof PEER_OPERATIONS)[number];

/** Operations that act for the deployment itself, not for an end user. */
export const DEPLOYMENT_OPERATIONS: ReadonlySet<PeerOperation> = new Set(['health', 'bundles.pull']);

/** Metadata only: nothing that returns or moves document content is allowed unless listed. */
export const DEFAULT_PEER_OPERATIONS: readonly PeerOperation[] = ['health', 'models', 'bases.list'];

const deploymentId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

const tls = z.strictObject({
  cert: secretRef,
  key: secretRef,
  /** PEM bundle of CAs trusted for the other side's certificate. */
  ca: secretRef.optional(),
});

const listen = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8443),
  tls,
});

const rateLimit = z.strictObject({
  /** Tokens added per minute to the peer's bucket. */
  requestsPerMinute: z.number().int().positive().max(1_000_000).default(60),
  /** Bucket size: calls the peer may make back to back. */
  burst: z.number().int().positive().max(100_000).default(20),
});

const operations = z.array(z.enum(PEER_OPERATIONS)).refine((ops) => new Set(ops).size === ops.length, { message: 'lists an operation twice' });

const peer = z.strictObject({
  /** The peer's deployment id; its certificate's subject CN must equal it. */
  id: deploymentId,
  zone: z.enum(['on-prem', 'cloud']),
  /** Where the peer's federation listener is; https only. */
  url: z.url({ protocol: /^https$/, message: 'must be an https URL' }),
  /**
   * CA bundle that issued this peer's certificates. When set, it is the only trust for
   * calls to the peer, and an inbound certificate naming this peer must chain through it
   * (so another peer's CA cannot mint this peer's identity).
   */
  ca: secretRef.optional(),
  /** TLS server name to verify when the URL's host is not in the peer's certificate. */
  servername: z.string().min(1).optional(),
  /** What this peer may call on us. */
  operations: operations.default([...DEFAULT_PEER_OPERATIONS]),
  /** What we may call on this peer; defaults to `operations` (a symmetric agreement). */
  calls: operations.optional(),
  rateLimit: rateLimit.prefault({}),
  timeoutMs: z.number().int().positive().max(600_000).default(5_000),
});

export const federationSchema = z
  .strictObject({
    /** The listener peers call; unset = this deployment accepts no peer calls. */
    listen: listen.optional(),
    /** Our identity when calling peers; defaults to listen.tls. */
    client: z.strictObject({ tls }).optional(),
    peers: z.array(peer).default([]),
    /** Largest request body the listener accepts and largest response body the client reads. */
    maxMessageBytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024),
    /** How often each peer gets a health ping; 0 = only on demand. */
    healthIntervalMs: z.number().int().nonnegative().default(30_000),
    /** Audit successful health pings too (refused ones always are). Off: a ping every 30 s would flood the chain. */
    auditHealthChecks: z.boolean().default(false),
  })
  .superRefine((f, ctx) => {
    const ids = new Set<string>();
    f.peers.forEach((p, i) => {
      if (ids.has(p.id)) ctx.addIssue({ code: 'custom', path: ['peers', i, 'id'], message: `duplicate peer id "${p.id}"` });
      ids.add(p.id);
      if (f.client === undefined && f.listen === undefined) {
        ctx.addIssue({ code: 'custom', path: ['peers', i], message: 'calling a peer needs a client certificate: set federation.client or federation.listen' });
      } else if (p.ca === undefined && (f.client ?? f.listen)?.tls.ca === undefined) {
        ctx.addIssue({ code: 'custom', path: ['peers', i, 'ca'], message: 'is required when the client tls has no ca: a peer is never verified against public roots' });
      }
    });
    if (f.listen !== undefined && f.listen.tls.ca === undefined && f.peers.every((p) => p.ca === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['listen', 'tls', 'ca'], message: 'is required unless peers name their own ca: the listener must know which client certificates to trust' });
    }
  });

export type FederationConfigInput = z.input<typeof federationSchema>;
export type FederationConfig = z.output<typeof federationSchema>;
export type PeerConfig = FederationConfig['peers'][number];

/** The deployment id must not be a peer of itself; checked where both sections are known. */
export function peerIdProblems(config: FederationConfig, ownId: string): { path: (string | number)[]; message: string }[] {
  return config.peers.flatMap((p, i) => (p.id === ownId ? [{ path: ['federation', 'peers', i, 'id'], message: 'is this deployment\'s own id' }] : []));
}
