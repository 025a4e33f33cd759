import type { PlaceholderFormat } from '../placeholders.js';

export interface VaultScope {
  /** The gateway's request id; a scope without a conversation lives only as long as the session. */
  requestId: string;
  /** A conversation key (see conversationKey); when set, mappings persist across turns for the vault's TTL. */
  conversation?: string | undefined;
}

/**
 * The value ↔ placeholder mapping of one request. It lives on the gateway (on-prem)
 * side only; nothing in it is ever sent upstream except the placeholders themselves.
 *
 * Everything but open() and commit() is synchronous: a conversation's mappings are
 * loaded (and decrypted) when the session opens, so pseudonymising and restoring a
 * stream never wait on the store.
 */
export interface VaultSession {
  readonly scope: VaultScope;
  /** Delimiters of the placeholders. Fixed by the first placeholderFor call. */
  readonly format: PlaceholderFormat;
  /**
   * Picks delimiters such that no placeholder can equal text already in these texts.
   * Must be called before the first placeholderFor; a later call that would change the format throws.
   */
  avoid(texts: readonly string[]): void;
  /** The placeholder for a value: the same value always gets the same one within the scope. */
  placeholderFor(entity: string, value: string): string;
  /**
   * The value behind a placeholder issued by this session (this request), else
   * undefined. Placeholders of earlier turns that this request did not use are not
   * restored, so an answer can only ever contain values the client sent in it.
   */
  lookup(placeholder: string): string | undefined;
  /** Placeholder → value for every placeholder issued by this session. */
  issued(): ReadonlyMap<string, string>;
  /**
   * Persists new mappings. Must resolve before the pseudonymised request leaves: a
   * conversation whose mapping was not stored would get different placeholders next turn.
   * Throws VaultConflictError when a concurrent request of the same conversation took
   * one of the new ids (retry with a new session), or GatewayError
   * `pseudonymization_unavailable` when the store cannot be reached.
   */
  commit(): Promise<void>;
}

export interface Vault {
  readonly kind: 'memory' | 'sqlite' | 'redis';
  /** Throws GatewayError `pseudonymization_unavailable` when the store cannot be reached. */
  open(scope: VaultScope): Promise<VaultSession>;
  close(): Promise<void>;
}

/** One stored mapping of a conversation, as a backend sees it. */
export interface StoredEntry {
  /** Placeholder id such as PERSON_1. */
  id: string;
  /** The original value, or undefined when it could not be decrypted (key rotated out, tampering). */
  value: string | undefined;
}

/** A concurrent request of the same conversation stored one of this session's new ids first. */
export class VaultConflictError extends Error {
  constructor() {
    super('placeholder id taken by a concurrent request of the same conversation');
    this.name = 'VaultConflictError';
  }
}
