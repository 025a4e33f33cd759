import type { JsonValue } from '../../domain/json.js';
import type { Principal } from '../../domain/principal.js';
import type { AuditEvent } from '../../record/audit.js';
import type { PeerOperation } from '../config.js';

/** The calling (or called) deployment, as configured here. */
export interface PeerIdentity {
  readonly id: string;
  readonly zone: 'on-prem' | 'cloud';
}

/** One inbound peer call, after the certificate, allow-list, rate limit and end-user token were checked. */
export interface PeerCall {
  readonly operation: PeerOperation;
  readonly peer: PeerIdentity;
  /** The end user the call runs as; undefined for deployment-level operations called without a token. */
  readonly principal: Principal | undefined;
  readonly correlationId: string;
  /** The parsed JSON body; validating it (zod) is the handler's job. */
  readonly body: unknown;
  /** Aborted when the peer hangs up or the listener closes. */
  readonly signal: AbortSignal;
}

export interface PeerHandlerResult {
  readonly body: JsonValue;
  /** Extra audit fields: ids, types and counts only, never content. */
  readonly audit?: { readonly [key: string]: JsonValue };
}

export type PeerHandler = (call: PeerCall) => Promise<PeerHandlerResult>;

/** The part of AuditLog federation needs. */
export interface AuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

/** Headers a peer call carries besides the end user's Authorization. */
export const CORRELATION_HEADER = 'x-perimeter-correlation-id';
export const DEPLOYMENT_HEADER = 'x-perimeter-deployment';

/** Accepted correlation ids: what randomUUID makes, and other short opaque tokens. */
export const CORRELATION_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export const FEDERATION_PATH_PREFIX = '/federation/v1/';
