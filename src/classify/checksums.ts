import { createHash } from 'node:crypto';

/**
 * Check-digit algorithms. Hand-written because they are a few lines each; the
 * libraries that bundle them (validator's isTaxID/isIdentityCard) cover only some of
 * these countries and take formatted strings we have already split, so they add a
 * parse per call for no gain. Each function takes digits/characters only.
 */

export function luhn(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Aadhaar's check digit. */
export function verhoeff(digits: string): boolean {
  let c = 0;
  const n = digits.length;
  for (let i = 0; i < n; i++) {
    const d = digits.charCodeAt(n - 1 - i) - 48;
    c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d]!]!;
  }
  return c === 0;
}

function weighted(digits: string, weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += (digits.charCodeAt(i) - 48) * weights[i]!;
  return sum;
}

export function allSameDigit(digits: string): boolean {
  return /^(\d)\1*$/.test(digits);
}

export function ukNhs(d: string): boolean {
  if (d.length !== 10) return false;
  const r = 11 - (weighted(d, [10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11);
  const check = r === 11 ? 0 : r;
  return check !== 10 && check === d.charCodeAt(9) - 48;
}

export function auTfn(d: string): boolean {
  if (d.length === 9) return weighted(d, [1, 4, 3, 7, 5, 8, 6, 9, 10]) % 11 === 0;
  if (d.length === 8) return weighted(d, [10, 7, 8, 4, 6, 3, 5, 1]) % 11 === 0;
  return false;
}

/** German Steuer-IdNr: ISO 7064 MOD 11,10, no leading zero, no digit more than three times in the first ten. */
export function deTaxId(d: string): boolean {
  if (d.length !== 11 || d[0] === '0') return false;
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10; i++) counts[d.charCodeAt(i) - 48]! += 1;
  if (counts.some((c) => c > 3)) return false;
  let product = 10;
  for (let i = 0; i < 10; i++) {
    let sum = (d.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  let check = 11 - product;
  if (check === 10) check = 0;
  return check === d.charCodeAt(10) - 48;
}

export function plPesel(d: string): boolean {
  if (d.length !== 11) return false;
  const month = Number(d.slice(2, 4)) % 20;
  const day = Number(d.slice(4, 6));
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  const check = (10 - (weighted(d, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10)) % 10;
  return check === d.charCodeAt(10) - 48;
}

/** French NIR (15 characters: 13 + key), with the Corsican 2A/2B departments. */
export function frNir(raw: string): boolean {
  const s = raw.toUpperCase();
  if (!/^[1-478]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}$/.test(s)) return false;
  const month = Number(s.slice(3, 5));
  if (!((month >= 1 && month <= 12) || (month >= 20 && month <= 42) || month >= 50)) return false;
  let body = s.slice(0, 13);
  let adjust = 0n;
  if (body.slice(5, 7) === '2A') {
    body = body.slice(0, 5) + '19' + body.slice(7);
    adjust = 1000000n;
  } else if (body.slice(5, 7) === '2B') {
    body = body.slice(0, 5) + '18' + body.slice(7);
    adjust = 2000000n;
  }
  const n = BigInt(body) - adjust;
  return 97n - (n % 97n) === BigInt(s.slice(13));
}

const NIF_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
export function esNifLetter(num: number): string {
  return NIF_LETTERS[num % 23]!;
}

const IT_ODD: Record<string, number> = {};
{
  const odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
  for (let i = 0; i < 26; i++) {
    IT_ODD[String.fromCharCode(65 + i)] = odd[i]!;
    if (i < 10) IT_ODD[String(i)] = odd[i]!;
  }
}
/** Italian codice fiscale check character (positions counted from 1: odd use the table). */
export function itFiscalCheck(code: string): boolean {
  const s = code.toUpperCase();
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const ch = s[i]!;
    if (i % 2 === 0) sum += IT_ODD[ch] ?? 0;
    else sum += ch >= '0' && ch <= '9' ? ch.charCodeAt(0) - 48 : ch.charCodeAt(0) - 65;
  }
  return String.fromCharCode(65 + (sum % 26)) === s[15];
}

export function sgNric(code: string): boolean {
  const s = code.toUpperCase();
  const prefix = s[0]!;
  let sum = weighted(s.slice(1, 8), [2, 7, 6, 5, 4, 3, 2]);
  if (prefix === 'T' || prefix === 'G') sum += 4;
  else if (prefix === 'M') sum += 3;
  const r = sum % 11;
  const table = prefix === 'S' || prefix === 'T' ? 'JZIHGFEDCBA' : prefix === 'F' || prefix === 'G' ? 'XWUTRQPNMLK' : 'KLJNPQRTUWX';
  return table[r] === s[8];
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/** Bitcoin legacy address: base58 with a 4-byte double-SHA-256 checksum. */
export function base58Check(addr: string): boolean {
  let n = 0n;
  for (const ch of addr) {
    const v = B58.indexOf(ch);
    if (v < 0) return false;
    n = n * 58n + BigInt(v);
  }
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let lead = 0;
  while (addr[lead] === '1') lead++;
  const bytes = Buffer.concat([Buffer.alloc(lead), Buffer.from(hex, 'hex')]);
  if (bytes.length !== 25) return false;
  const body = bytes.subarray(0, 21);
  const sum = createHash('sha256').update(createHash('sha256').update(body).digest()).digest();
  return sum.subarray(0, 4).equals(bytes.subarray(21));
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
/** Segwit address: bech32 (v0) or bech32m (v1+) checksum. */
export function bech32Check(addr: string): boolean {
  const s = addr.toLowerCase();
  const pos = s.lastIndexOf('1');
  if (pos < 1 || s.length - pos < 7) return false;
  const hrp = s.slice(0, pos);
  const data: number[] = [];
  for (const ch of s.slice(pos + 1)) {
    const v = BECH32.indexOf(ch);
    if (v < 0) return false;
    data.push(v);
  }
  const values: number[] = [];
  for (let i = 0; i < hrp.length; i++) values.push(hrp.charCodeAt(i) >> 5);
  values.push(0);
  for (let i = 0; i < hrp.length; i++) values.push(hrp.charCodeAt(i) & 31);
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of [...values, ...data]) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]!;
  }
  const version = data[0];
  return version === 0 ? chk === 1 : chk === 0x2bc830a3;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}
