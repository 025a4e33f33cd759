/**
 * The gateway's one error model. Codes are stable snake_case strings that clients
 * may switch on; the status table is the single place they map to HTTP.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  authentication_failed: 401,
  forbidden: 403,
  /** The data's level forbids every tier that serves the requested model. */
  model_not_permitted_for_data: 403,
  /** A policy rule denies the request. */
  request_denied: 403,
  /** A policy rule requires approval before such a request may run. */
  approval_required: 403,
  /** The peer's certificate is valid but names no configured peer deployment. */
  peer_unknown: 403,
  /** The calling peer is not allowed this federation operation. */
  peer_operation_forbidden: 403,
  not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  /** The answer held sensitive data the request did not, and the policy blocks such answers. */
  content_blocked: 422,
  unsupported_media_type: 415,
  rate_limited: 429,
  /** The calling peer used up its federation rate limit. */
  peer_rate_limited: 429,
  /** A spend budget (per day or month) is used up. */
  budget_exceeded: 429,
  client_closed_request: 499,
  internal_error: 500,
  not_implemented: 501,
  upstream_error: 502,
  upstream_unavailable: 503,
  /** A peer deployment could not be reached; this deployment keeps working alone. */
  peer_unavailable: 503,
  /** A peer deployment answered with an error or a response that could not be used. */
  peer_error: 502,
  /** The identity provider or key store cannot be reached; nobody is let in unchecked. */
  auth_unavailable: 503,
  /** Usage limits cannot be checked and the fail mode is closed. */
  limits_unavailable: 503,
  capacity_exhausted: 503,
  /** This gateway process has `server.maxInFlight` inference requests open; retry after Retry-After. */
  overloaded: 503,
  /** The gateway is draining for shutdown; retry on another instance. */
  shutting_down: 503,
  /** The policy wants values pseudonymised before this tier, and that cannot be done. */
  pseudonymization_unavailable: 503,
  upstream_timeout: 504,
  /** A Base that does not exist or that the caller may not see (the two are not told apart). */
  base_not_found: 404,
  document_not_found: 404,
  move_not_found: 404,
  /** A document larger than bases.maxDocumentBytes, or a PDF with too many pages. */
  document_too_large: 413,
  /** A document that cannot be read: unsupported type, unreadable PDF, no text. */
  invalid_document: 422,
  /** The document's classified level is above its Base's level. */
  document_too_sensitive: 422,
  /** Full documents are only served in their home deployment. */
  document_not_local: 403,
  /** A move that is not in the state the step needs (already approved, rejected, done). */
  move_conflict: 409,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface GatewayErrorOptions {
  /** Dotted path of the offending request field, when there is one. */
  param?: string;
  /** Whether the router may try again elsewhere (before any byte reached the client). */
  retryable?: boolean;
  /** Seconds the client should wait, sent as Retry-After. */
  retryAfter?: number;
  /** Status the upstream answered with, kept for records; never shown as ours. */
  upstreamStatus?: number;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | undefined;
  readonly retryable: boolean;
  readonly retryAfter: number | undefined;
  readonly upstreamStatus: number | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.param = options.param;
    this.retryable = options.retryable ?? false;
    this.retryAfter = options.retryAfter;
    this.upstreamStatus = options.upstreamStatus;
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError;
}

/** Anything thrown that is not already a GatewayError becomes an opaque internal error. */
export function toGatewayError(value: unknown): GatewayError {
  if (value instanceof GatewayError) return value;
  return new GatewayError('internal_error', 'internal error', { cause: value });
}
