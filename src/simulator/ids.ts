import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

/**
 * Ids look like the upstream's (chatcmpl-…, msg_…, toolu_…, call_…) but are a
 * random per-process stem plus a counter: unique without paying for
 * crypto randomness on every request.
 */
export class IdSource {
  private readonly stem = randomToken(12);
  private counter = 0;

  next(prefix: string): string {
    return prefix + this.stem + (this.counter++).toString(36).padStart(8, '0');
  }
}
