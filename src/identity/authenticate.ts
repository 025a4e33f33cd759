import { GatewayError } from '../domain/errors.js';
import { ANONYMOUS, type Principal } from '../domain/principal.js';
import { looksLikeApiKey } from './api-key.js';
import { JwtError, type JwtVerifier } from './jwt.js';
import { KeyStoreError } from './key-stores/key-store.js';
import { principalForKey, type ApiKeyService } from './keys.js';

/** Node's IncomingHttpHeaders and Fastify's request.headers both fit. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** One refused attempt, for audit logs. It names the kind of credential and why, never the credential. */
export interface AuthFailure {
  readonly credential: 'none' | 'api_key' | 'jwt' | 'unknown';
  readonly reason: string;
}

export interface AuthenticatorOptions {
  /** false = development only: a request WITHOUT a credential runs as the anonymous principal. */
  required: boolean;
  /** Roles of the anonymous principal when `required` is false. */
  anonymousRoles?: readonly string[];
  /** Tried in order: config-defined keys first, then the persistent store. */
  keys?: readonly ApiKeyService[];
  jwt?: JwtVerifier | undefined;
  onFailure?: (failure: AuthFailure) => void;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Turns request headers into a Principal. Accepts `Authorization: Bearer <key|JWT>`
 * (OpenAI SDKs) and `x-api-key: <key|JWT>` (the Anthropic SDK). A credential that is
 * present but wrong is always 401, even when authentication is optional: a typo must
 * not silently downgrade a caller to anonymous.
 */
export class Authenticator {
  readonly #required: boolean;
  readonly #anonymous: Principal;
  readonly #keys: readonly ApiKeyService[];
  readonly #jwt: JwtVerifier | undefined;
  readonly #onFailure: (failure: AuthFailure) => void;

  constructor(options: AuthenticatorOptions) {
    this.#required = options.required;
    this.#anonymous = Object.freeze({ ...ANONYMOUS, roles: Object.freeze([...(options.anonymousRoles ?? [])]) });
    this.#keys = options.keys ?? [];
    this.#jwt = options.jwt;
    this.#onFailure = options.onFailure ?? (() => undefined);
  }

  async authenticate(headers: HeaderBag): Promise<Principal> {
    const credential = this.#credential(headers);
    if (credential === undefined) {
      if (!this.#required) return this.#anonymous;
      throw this.#fail('none', 'no credential', 'Missing credentials: send Authorization: Bearer <key> or x-api-key.');
    }
    if (looksLikeApiKey(credential)) return this.#viaKey(credential);
    if (JWT_SHAPE.test(credential)) return this.#viaJwt(credential);
    throw this.#fail('unknown', 'unrecognised credential format', 'The credential is not a Perimeter API key or a JWT.');
  }

  #credential(headers: HeaderBag): string | undefined {
    const auth = headers['authorization'];
    const apiKey = headers['x-api-key'];
    if (Array.isArray(auth) || Array.isArray(apiKey)) throw this.#fail('unknown', 'repeated credential header', 'Send one credential header, once.');
    let fromAuth: string | undefined;
    if (auth !== undefined && auth.trim() !== '') {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
      if (m?.[1] === undefined) throw this.#fail('unknown', 'unsupported authorization scheme', 'Use Authorization: Bearer <credential>.');
      fromAuth = m[1];
    }
    const fromHeader = apiKey === undefined || apiKey.trim() === '' ? undefined : apiKey.trim();
    if (fromAuth !== undefined && fromHeader !== undefined && fromAuth !== fromHeader) {
      // Two different credentials: picking either would be a guess about who is calling.
      throw this.#fail('unknown', 'conflicting credentials', 'Authorization and x-api-key carry different credentials.');
    }
    return fromAuth ?? fromHeader;
  }

  async #viaKey(key: string): Promise<Principal> {
    for (const service of this.#keys) {
      let result;
      try {
        result = await service.verify(key);
      } catch (err) {
        if (err instanceof KeyStoreError) throw new GatewayError('upstream_unavailable', 'The credential store is unavailable.', { cause: err });
        throw err;
      }
      if (result.ok) return principalForKey(result.record);
      if (result.reason !== 'unknown') throw this.#fail('api_key', `key ${result.reason}`, `The API key is ${result.reason}.`);
    }
    throw this.#fail('api_key', 'unknown key', 'The API key is not valid.');
  }

  async #viaJwt(token: string): Promise<Principal> {
    if (this.#jwt === undefined) throw this.#fail('jwt', 'no issuers configured', 'Bearer tokens are not accepted here.');
    try {
      return await this.#jwt.verify(token);
    } catch (err) {
      if (err instanceof JwtError && err.reason === 'keys_unavailable') {
        this.#onFailure({ credential: 'jwt', reason: err.message });
        throw new GatewayError('upstream_unavailable', 'The identity provider could not be reached to verify the token.', { cause: err });
      }
      const reason = err instanceof JwtError ? err.message : 'token is invalid';
      throw this.#fail('jwt', reason, `The bearer token was rejected: ${reason}.`);
    }
  }

  #fail(credential: AuthFailure['credential'], reason: string, message: string): GatewayError {
    this.#onFailure({ credential, reason });
    return new GatewayError('authentication_failed', message);
  }
}
