import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Secret } from '../../config/secrets.js';

export interface VaultKey {
  /** Stored with each value, so old values stay readable after the active key changes. */
  id: string;
  secret: Secret;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for values at rest. The first key encrypts; every key listed decrypts,
 * which is how keys rotate: add the new key first, keep the old one until the TTL
 * has expired every value written with it.
 */
export class VaultCipher {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #active: string;

  constructor(keys: readonly VaultKey[]) {
    if (keys.length === 0) throw new Error('vault: at least one encryption key is required');
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      if (map.has(k.id)) throw new Error(`vault: duplicate key id "${k.id}"`);
      map.set(k.id, decodeKey(k.secret, k.id));
    }
    this.#keys = map;
    this.#active = keys[0]!.id;
  }

  get activeKeyId(): string {
    return this.#active;
  }

  /** `aad` binds the ciphertext to its conversation and placeholder, so rows cannot be swapped. */
  encrypt(plaintext: string, aad: string): { kid: string; blob: string } {
    const key = this.#keys.get(this.#active)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { kid: this.#active, blob: Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64') };
  }

  /** undefined when the key id is unknown or authentication fails. */
  decrypt(kid: string, blob: string, aad: string): string | undefined {
    const key = this.#keys.get(kid);
    if (key === undefined) return undefined;
    const raw = Buffer.from(blob, 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** 32 bytes as 64 hex digits or as base64. The message names the key id, never the material. */
export function decodeKey(secret: Secret, id: string): Buffer {
  const text = secret.reveal().trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/_-]+=*$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) throw new Error(`vault: key "${id}" must be 32 bytes, as 64 hex digits or base64`);
  return bytes;
}

/** Store key of a conversation: its key is client input (a header), so only a hash is stored. */
export function conversationStoreKey(conversation: string): string {
  return createHash('sha256').update(conversation, 'utf8').digest('hex');
}
