import { GatewayError, type ErrorCode } from '../domain/errors.js';

/** OpenAI's error `type` for each of our codes; our code travels in `code`. */
const OPENAI_TYPE: Record<ErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  authentication_failed: 'authentication_error',
  forbidden: 'permission_error',
  model_not_permitted_for_data: 'permission_error',
  request_denied: 'permission_error',
  approval_required: 'permission_error',
  not_found: 'invalid_request_error',
  model_not_found: 'invalid_request_error',
  method_not_allowed: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  content_blocked: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  budget_exceeded: 'rate_limit_error',
  client_closed_request: 'invalid_request_error',
  internal_error: 'server_error',
  not_implemented: 'server_error',
  upstream_error: 'server_error',
  upstream_unavailable: 'server_error',
  auth_unavailable: 'server_error',
  limits_unavailable: 'server_error',
  capacity_exhausted: 'server_error',
  overloaded: 'server_error',
  shutting_down: 'server_error',
  pseudonymization_unavailable: 'server_error',
  upstream_timeout: 'server_error',
  peer_unknown: 'permission_error',
  peer_operation_forbidden: 'permission_error',
  peer_rate_limited: 'rate_limit_error',
  peer_unavailable: 'server_error',
  peer_error: 'server_error',
  base_not_found: 'invalid_request_error',
  document_not_found: 'invalid_request_error',
  move_not_found: 'invalid_request_error',
  document_too_large: 'invalid_request_error',
  invalid_document: 'invalid_request_error',
  document_too_sensitive: 'invalid_request_error',
  document_not_local: 'permission_error',
  move_conflict: 'invalid_request_error',
};

/** Anthropic's error `type` for each of our codes. */
const ANTHROPIC_TYPE: Record<ErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  authentication_failed: 'authentication_error',
  forbidden: 'permission_error',
  model_not_permitted_for_data: 'permission_error',
  request_denied: 'permission_error',
  approval_required: 'permission_error',
  not_found: 'not_found_error',
  model_not_found: 'not_found_error',
  method_not_allowed: 'invalid_request_error',
  payload_too_large: 'request_too_large',
  content_blocked: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  budget_exceeded: 'rate_limit_error',
  client_closed_request: 'invalid_request_error',
  internal_error: 'api_error',
  not_implemented: 'api_error',
  upstream_error: 'api_error',
  upstream_unavailable: 'overloaded_error',
  auth_unavailable: 'overloaded_error',
  limits_unavailable: 'overloaded_error',
  capacity_exhausted: 'overloaded_error',
  overloaded: 'overloaded_error',
  shutting_down: 'overloaded_error',
  pseudonymization_unavailable: 'overloaded_error',
  upstream_timeout: 'timeout_error',
  peer_unknown: 'permission_error',
  peer_operation_forbidden: 'permission_error',
  peer_rate_limited: 'rate_limit_error',
  peer_unavailable: 'overloaded_error',
  peer_error: 'api_error',
  base_not_found: 'not_found_error',
  document_not_found: 'not_found_error',
  move_not_found: 'not_found_error',
  document_too_large: 'request_too_large',
  invalid_document: 'invalid_request_error',
  document_too_sensitive: 'invalid_request_error',
  document_not_local: 'permission_error',
  move_conflict: 'invalid_request_error',
};

export type WireProtocol = 'openai' | 'anthropic';

export function openAIErrorBody(error: GatewayError): object {
  return { error: { message: error.message, type: OPENAI_TYPE[error.code], param: error.param ?? null, code: error.code } };
}

export function anthropicErrorBody(error: GatewayError): object {
  return { type: 'error', error: { type: ANTHROPIC_TYPE[error.code], message: error.message, code: error.code } };
}

export function errorBody(protocol: WireProtocol, error: GatewayError): object {
  return protocol === 'anthropic' ? anthropicErrorBody(error) : openAIErrorBody(error);
}

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
}

/**
 * Maps what the framework throws before a handler runs (body parsing, limits) to
 * our codes. Its own messages are not passed on: they can quote the body.
 */
export function fromFrameworkError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const { code, statusCode } = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('payload_too_large', 'Request body is larger than the configured limit.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', 'Content-Type must be application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_request', 'Request body is empty; expected a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'Content-Length does not match the body.');
    default:
      break;
  }
  if (err instanceof SyntaxError || (typeof statusCode === 'number' && statusCode === 400)) {
    return new GatewayError('invalid_request', 'Request body is not valid JSON.');
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return new GatewayError('invalid_request', 'The request could not be read.');
  }
  return new GatewayError('internal_error', 'internal error', { cause: err });
}
