import { performance } from 'node:perf_hooks';
import { isIP } from 'node:net';
import { electronicFormatIBAN, isValidIBAN, getCountrySpecifications } from 'ibantools';
import { findPhoneNumbersInText, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import validator from 'validator';
import { allSameDigit, base58Check, bech32Check, luhn } from '../checksums.js';
import { scanWindows, type Window } from '../digit-runs.js';
import {
  charClass, DetectorBudgetError, execAt, runStartsBefore, startsBefore, F_ALNUM, F_AT, F_COLON, F_DASH, F_DIGIT, F_DIGITS7, F_DOT, F_LONGRUN, F_UPPER, stickyOf, type Detector, type ScanContext, wordSet,
} from '../scan-context.js';
import type { Candidate } from '../types.js';

/** Added when a candidate is the whole field value (see ScanContext.standalone). */
export const STANDALONE_BOOST = 0.2;
/** Words that say a number is something else (a book, a hash, a build). */
const ANTI = wordSet('isbn doi sha sha1 sha256 commit hash checksum uuid guid version build issn');

function cand(entity: string, start: number, end: number, score: number, detector: string): Candidate {
  return { entity, start, end, score: score > 1 ? 1 : score, detector };
}

function numericScore(ctx: ScanContext, base: number, w: { start: number; end: number }, context: ReadonlySet<string>): number {
  let s = ctx.score(base, w.start, w.end, context);
  if (ctx.standalone(w.start, w.end)) s += STANDALONE_BOOST;
  if (ctx.near(w.start, w.end, ANTI, 24, 8)) s -= 0.4;
  return s;
}

// ---------------------------------------------------------------- email
const EMAIL = /(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{2,59})(?![\w-])/g;
const EMAIL_AT = stickyOf(EMAIL);
/** [A-Za-z0-9._%+-]: the local part's characters, which are also exactly the lookbehind's class. */
const LOCAL = charClass('0-9A-Za-z._%+-');
/**
 * Where an EMAIL match can start: each match holds exactly one '@' (neither part allows
 * another), its local part is made of LOCAL characters, and the lookbehind forbids a
 * LOCAL character before it, so a match can only start where the run of LOCAL characters
 * ending just before its '@' starts, and only if that run is at most 64 long. Walking back
 * from each '@' (found by indexOf) therefore yields every possible start, ascending, and
 * the regex runs a few anchored attempts instead of a scan of the whole text (~6% of a
 * 2 KB chat request).
 */
const emailStarts = (text: string): number[] => runStartsBefore(text, '@', LOCAL, 64);
export const emailDetector: Detector = {
  id: 'email.address',
  entities: ['EMAIL_ADDRESS'],
  needs: F_AT,
  detect(ctx, out) {
    execAt(EMAIL_AT, ctx.text, emailStarts(ctx.text), (m) => {
      // validator.isEmail is the RFC-shape check; the regex only finds candidates.
      if (validator.isEmail(m[0], { allow_utf8_local_part: false })) out.push(cand('EMAIL_ADDRESS', m.index, m.index + m[0].length, 0.95, this.id));
    });
  },
};

// ---------------------------------------------------------------- URL
// TLDs accepted on a bare domain (no scheme, no www.). Country codes that are also common
// file extensions (py, sh, md, rs, pl, ts…) are left out: `setup.py` is not a URL.
const BARE_TLDS = new Set(
  ('com org net edu gov mil int io ai co app dev info biz me tv us uk de fr es it nl be ch at se no dk fi ie pt gr ' +
    'il in jp cn kr au nz ca br mx ar za ru ua tr eu asia site online tech store cloud xyz page blog news')
    .split(' '),
);
const BARE_HINT = new RegExp(`www\\.|\\.(?:${[...BARE_TLDS].join('|')})(?![a-z0-9-])`, 'i');
const BARE_HINT_AT = new RegExp(BARE_HINT.source, 'iy');
/** BARE_HINT tried at each '.' (indexOf) and three characters before it (for "www."), not scanned over the text. */
function bareHint(text: string): boolean {
  for (let p = text.indexOf('.'); p >= 0; p = text.indexOf('.', p + 1)) {
    BARE_HINT_AT.lastIndex = p;
    if (BARE_HINT_AT.test(text)) return true;
    if (p >= 3) {
      BARE_HINT_AT.lastIndex = p - 3;
      if (BARE_HINT_AT.test(text)) return true;
    }
  }
  return false;
}
const URL_SCHEME = /(?<![\w])(?:https?|ftp):\/\/[^\s<>"'`)\]]+/gi;
/** Every URL_SCHEME match has its "://" 3, 4 or 5 characters (ftp, http, https) after its start. */
const URL_SCHEME_AT = stickyOf(URL_SCHEME);
const SCHEME_LENGTHS = [3, 4, 5];
const URL_BARE = /(?<![\w@./:-])(?:www\.)?(?:[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\.)+([a-z]{2,24})(?:\/[^\s<>"'`)\]]*)?(?![\w@-])/gi;
const URL_BARE_AT = stickyOf(URL_BARE);
/** [A-Za-z0-9-]: a label's characters, all inside URL_BARE's lookbehind class. */
const LABEL = charClass('0-9A-Za-z-');
/**
 * Where a URL_BARE match can start: its first '.' ends "www" or its first label (at most
 * 64 label characters), and the lookbehind forbids a label character before the match,
 * so the match starts where the run of label characters ending just before that '.'
 * starts, a run of at most 64. Walking back from each '.' (indexOf) yields every possible
 * start, ascending; the full regex scan of the text cost ~5% of a 2 KB chat request.
 */
const bareUrlStarts = (text: string): number[] => runStartsBefore(text, '.', LABEL, 64);
export const urlDetector: Detector = {
  id: 'url.web',
  entities: ['URL'],
  needs: F_DOT,
  detect(ctx, out) {
    const text = ctx.text;
    const taken: Array<[number, number]> = [];
    execAt(URL_SCHEME_AT, text, startsBefore(text, '://', SCHEME_LENGTHS), (m) => {
      const value = m[0].replace(/[.,;:!?]+$/, '');
      if (validator.isURL(value, { require_protocol: true, require_tld: true, allow_underscores: true })) {
        out.push(cand('URL', m.index, m.index + value.length, 0.85, this.id));
        taken.push([m.index, m.index + value.length]);
      }
    });
    // Bare domains need ".tld" or "www."; test that literal shape first (the full regex
    // costs ~7% of prose time when run blind).
    if (!bareHint(text)) return;
    execAt(URL_BARE_AT, text, bareUrlStarts(text), (m) => {
      const start = m.index;
      if (taken.some(([s, e]) => start >= s && start < e)) return;
      const value = m[0].replace(/[.,;:!?]+$/, '');
      const host = value.split('/')[0]!;
      const tld = host.slice(host.lastIndexOf('.') + 1).toLowerCase();
      if (!BARE_TLDS.has(tld) && !(host.toLowerCase().startsWith('www.') && tld.length === 2)) return;
      if (!validator.isFQDN(host, { require_tld: true })) return;
      out.push(cand('URL', start, start + value.length, 0.6, this.id));
    });
  },
};

// ---------------------------------------------------------------- IP addresses
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?:\\/(?:3[0-2]|[12]?\\d)(?!\\d))?(?![\\w]|\\.\\d{1,3}\\.)`, 'g');
const IPV6_RUN = /(?<![\w:.])[0-9A-Fa-f:.]*::?[0-9A-Fa-f:.]*(?:%[A-Za-z0-9_.]+)?(?:\/\d{1,3})?/g;
const IPV4_AT = stickyOf(IPV4);
const IPV6_RUN_AT = stickyOf(IPV6_RUN);
/** [0-9A-Fa-f:.]: the characters of an IPV6_RUN match up to its zone or prefix, all inside its lookbehind class. */
const V6 = charClass('0-:A-Fa-f.');
/**
 * Where an IPV6_RUN match can start: it opens with V6 characters up to a ':' and its
 * lookbehind forbids a V6 character before it, so it starts where a maximal run of V6
 * characters holding a ':' starts. Each ':' (indexOf) is walked back to its run's start
 * and the search resumes after the run, so each character is read at most twice; the
 * regex scan it replaces tried every offset of the text (~3% of a 2 KB chat request).
 */
function ipv6Starts(text: string): number[] {
  const at: number[] = [];
  const n = text.length;
  for (let p = text.indexOf(':'); p >= 0; ) {
    let s = p;
    while (s > 0 && V6[text.charCodeAt(s - 1)] === 1) s--;
    at.push(s);
    let e = p + 1;
    while (e < n && V6[text.charCodeAt(e)] === 1) e++;
    p = text.indexOf(':', e);
  }
  return at;
}
const IP_CONTEXT = wordSet('ip ipv4 ipv6 address host server gateway route subnet');
export const ipDetector: Detector = {
  id: 'ip.address',
  entities: ['IP_ADDRESS'],
  // "::" has no digit, so gate on digit-or-colon inside.
  needs: 0,
  detect(ctx, out) {
    if (!(ctx.flags & (F_DIGIT | F_COLON))) return;
    const text = ctx.text;
    if (ctx.flags & F_DOT) {
      // A match opens with a digit and its lookbehind forbids a word character before it,
      // so it starts where a run of digits starts.
      execAt(IPV4_AT, text, ctx.digitRunStarts, (m) => {
        out.push(cand('IP_ADDRESS', m.index, m.index + m[0].length, ctx.score(0.6, m.index, m.index + m[0].length, IP_CONTEXT), this.id));
      });
    }
    if (!(ctx.flags & F_COLON)) return;
    execAt(IPV6_RUN_AT, text, ipv6Starts(text), (m) => {
      if (m[0].length < 2) return;
      let value = m[0].replace(/\.+$/, '');
      const end0 = m.index + value.length;
      // A run glued to a following word character ("fe80::1text") is not an address.
      if (end0 < text.length && /\w/.test(text[end0]!) && !/[%/]/.test(value)) return;
      let prefix = '';
      const slash = value.indexOf('/');
      if (slash >= 0) {
        prefix = value.slice(slash + 1);
        value = value.slice(0, slash);
      }
      const bare = value.split('%')[0]!;
      if ((bare.match(/:/g) ?? []).length < 2 || isIP(bare) !== 6) return;
      let len = value.length;
      if (prefix !== '' && Number(prefix) <= 128) len += 1 + prefix.length;
      out.push(cand('IP_ADDRESS', m.index, m.index + len, ctx.score(0.6, m.index, m.index + len, IP_CONTEXT), this.id));
    });
  },
};

// ---------------------------------------------------------------- MAC
const MAC = /(?<![\w:.-])(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w]|[:-][0-9A-Fa-f])/g;
/** Literal-first pre-check: a hex pair then a separator then a hex pair; no lookbehind, so V8 scans it fast. */
const MAC_HINT = /[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]|\.[0-9A-Fa-f]{4}\./;
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102);
}
/**
 * MAC_HINT, checked at each separator found by indexOf (native, ~0.2 ns per character)
 * rather than as a regex over the text: prose has a '.' per sentence and little else.
 */
function macHint(text: string): boolean {
  const sep = (c: number): boolean => c === 58 || c === 45;
  for (const ch of ':-') {
    for (let p = text.indexOf(ch); p >= 0; p = text.indexOf(ch, p + 1)) {
      if (isHex(text.charCodeAt(p + 1)) && isHex(text.charCodeAt(p + 2)) && sep(text.charCodeAt(p + 3)) &&
        isHex(text.charCodeAt(p + 4)) && isHex(text.charCodeAt(p + 5)) && sep(text.charCodeAt(p + 6))) return true;
    }
  }
  for (let p = text.indexOf('.'); p >= 0; p = text.indexOf('.', p + 1)) {
    if (text.charCodeAt(p + 5) === 46 && isHex(text.charCodeAt(p + 1)) && isHex(text.charCodeAt(p + 2)) && isHex(text.charCodeAt(p + 3)) && isHex(text.charCodeAt(p + 4))) return true;
  }
  return false;
}
export const macDetector: Detector = {
  id: 'mac.address',
  entities: ['MAC_ADDRESS'],
  needs: 0,
  detect(ctx, out) {
    // Hex pairs need ':' '-' or '.' between them; 'AA:BB:…' has no digit, so gate on those.
    if (!(ctx.flags & (F_COLON | F_DASH | F_DOT)) || !macHint(ctx.text)) return;
    MAC.lastIndex = 0;
    for (let m = MAC.exec(ctx.text); m !== null; m = MAC.exec(ctx.text)) {
      const hex = m[0].replace(/[:.-]/g, '').toLowerCase();
      if (hex === 'ffffffffffff' || hex === '000000000000') continue;
      out.push(cand('MAC_ADDRESS', m.index, m.index + m[0].length, 0.8, this.id));
    }
  },
};

// ---------------------------------------------------------------- crypto wallets
const BTC_LEGACY = /(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])/g;
const BTC_BECH32 = /(?<![A-Za-z0-9])(?:bc1|BC1|tb1)[02-9ac-hj-np-zAC-HJ-NP-Z]{8,87}(?![A-Za-z0-9])/g;
const ETH = /(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-zA-Z])/g;
const BTC_LEGACY_AT = stickyOf(BTC_LEGACY);
const BTC_BECH32_AT = stickyOf(BTC_BECH32);
const ETH_AT = stickyOf(ETH);
const BECH32_OFFSETS = [2];
export const cryptoDetector: Detector = {
  id: 'crypto.wallet',
  entities: ['CRYPTO'],
  needs: F_DIGIT,
  detect(ctx, out) {
    const text = ctx.text;
    // Legacy and Ethereum addresses are 26+ letters and digits in a row (F_LONGRUN);
    // bech32 ones start with a literal prefix. Prose has neither: skip the three scans.
    const long = (ctx.flags & F_LONGRUN) !== 0;
    if (!long && !text.includes('bc1') && !text.includes('BC1') && !text.includes('tb1')) return;
    // Legacy and Ethereum addresses open with a digit ('1', '3', "0x") after a non-alphanumeric
    // character, so at a digit-run start; bech32 ones have the run start two characters in
    // ("bc1"). The regexes are tried there only, not scanned over the text.
    if (long) {
      execAt(BTC_LEGACY_AT, text, ctx.digitRunStarts, (m) => {
        if (base58Check(m[0])) out.push(cand('CRYPTO', m.index, m.index + m[0].length, 0.95, this.id));
      });
    }
    execAt(BTC_BECH32_AT, text, ctx.startsBeforeDigitRuns(BECH32_OFFSETS), (m) => {
      const v = m[0];
      // Bech32 forbids mixed case, so a mixed-case address is an obfuscated one: check it lower-cased.
      const mixed = v !== v.toLowerCase() && v !== v.toUpperCase();
      if (bech32Check(mixed ? v.toLowerCase() : v)) out.push(cand('CRYPTO', m.index, m.index + v.length, mixed ? 0.85 : 0.95, this.id));
    });
    if (long) {
      execAt(ETH_AT, text, ctx.digitRunStarts, (m) => {
        // Mixed case is an EIP-55 checksum we cannot verify without keccak; keep it but lower.
        const body = m[0].slice(2);
        const single = body === body.toLowerCase() || body === body.toUpperCase();
        out.push(cand('CRYPTO', m.index, m.index + m[0].length, single ? 0.7 : 0.8, this.id));
      });
    }
  },
};

// ---------------------------------------------------------------- credit cards
const CC_CONTEXT = wordSet('card cards credit debit visa mastercard amex cc cvv expiry expires payment pay');
export const creditCardDetector: Detector = {
  id: 'credit-card.luhn',
  entities: ['CREDIT_CARD'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    scanWindows(ctx, { min: 12, max: 19, mixed: true, partial: true }, (w) => {
      const d = w.digits;
      // Presidio's rule: 13 digits starting with 1 are not issued as cards.
      if (!/^[1-6]/.test(d) || (d.length === 13 && d[0] === '1') || !luhn(d) || allSameDigit(d)) return null;
      // Cards are printed in groups of four (Amex/Diners 4-6-5, 4-6-4) or as one run; two
      // runs of 7+ digits side by side are two numbers, whatever Luhn says.
      if (w.shape.length > 1 && w.shape.some((n) => n > 6)) return null;
      // Issuers use 13-19 digits; 12 is rare enough to want context.
      const base = d.length >= 15 ? 0.9 : d.length >= 13 ? 0.75 : 0.45;
      return cand('CREDIT_CARD', w.start, w.end, numericScore(ctx, base, w, CC_CONTEXT), this.id);
    }, out);
  },
};

// ---------------------------------------------------------------- IBAN
const IBAN_START = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?=[ -]?[A-Za-z0-9])/g;
const IBAN_START_AT = stickyOf(IBAN_START);
/** The check digits start right after the two country letters. */
const IBAN_OFFSETS = [2];
const IBAN_CONTEXT = wordSet('iban bank account transfer sepa swift bic');
let ibanLengths: Map<string, number> | undefined;
function ibanLength(cc: string): number | undefined {
  if (ibanLengths === undefined) {
    ibanLengths = new Map();
    for (const [code, spec] of Object.entries(getCountrySpecifications())) if (spec.chars) ibanLengths.set(code, spec.chars);
  }
  return ibanLengths.get(cc);
}
export const ibanDetector: Detector = {
  id: 'iban.ibantools',
  entities: ['IBAN_CODE'],
  needs: F_DIGIT,
  detect(ctx, out) {
    // Two letters then two digits: a letter next to a digit (F_ALNUM) is required.
    if (!(ctx.flags & F_ALNUM)) return;
    const text = ctx.text;
    execAt(IBAN_START_AT, text, ctx.startsBeforeDigitRuns(IBAN_OFFSETS), (m) => {
      const cc = m[0].slice(0, 2);
      const need = ibanLength(cc.toUpperCase());
      if (need === undefined) return;
      // Collect alphanumerics, allowing one consistent separator (space or dash) between them.
      let i = m.index;
      let chars = '';
      let sep: string | null = null;
      while (i < text.length && chars.length < need) {
        const ch = text[i]!;
        if (/[A-Za-z0-9]/.test(ch)) {
          chars += ch;
          i++;
        } else if ((ch === ' ' || ch === '-') && chars.length >= 4 && (sep === null || sep === ch) && /[A-Za-z0-9]/.test(text[i + 1] ?? '')) {
          sep = ch;
          i++;
        } else break;
      }
      if (chars.length !== need || /[A-Za-z0-9]/.test(text[i] ?? '')) return;
      const letters = chars.replace(/[^A-Za-z]/g, '');
      const e = electronicFormatIBAN(chars.toUpperCase());
      if (e === null || !isValidIBAN(e)) return;
      // Mixed case ("De89…", "gB82 wEST…") is an obfuscation; the mod-97 check still holds, so keep it, a little lower.
      const mixed = letters !== letters.toUpperCase() && letters !== letters.toLowerCase();
      out.push(cand('IBAN_CODE', m.index, i, ctx.score(mixed ? 0.8 : 0.9, m.index, i, IBAN_CONTEXT), this.id));
      // The scan resumes after the whole IBAN, as the global regex did with lastIndex = i.
      return i;
    });
  },
};

// ---------------------------------------------------------------- US identifiers
const SSN_CONTEXT = wordSet('ssn ssns social security ssa ss# ssid');
/** Groupings an SSN/ITIN is written in (Presidio's), plus one-or-two-digit obfuscation groups. */
const SSN_SHAPES = /^(?:9|3-2-4|3-6|5-4|[12](?:-[12]){4,8})$/;
function ssnValid(d: string): boolean {
  const area = d.slice(0, 3);
  if (area === '000' || area === '666' || d[0] === '9') return false;
  if (d.slice(3, 5) === '00' || d.slice(5) === '0000') return false;
  if (allSameDigit(d)) return false;
  // Presidio's list of published sample numbers.
  for (const sample of ['123456789', '98765432', '078051120']) if (d.startsWith(sample)) return false;
  return true;
}
function groupedScore(w: Window, canonical: string, weak: number, strong: number): number {
  if (w.shape.join('-') === canonical && w.sep !== '') return strong;
  return weak;
}
export const ssnDetector: Detector = {
  id: 'us.ssn',
  entities: ['US_SSN'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    scanWindows(ctx, { min: 9, max: 9 }, (w) => {
      if (!ssnValid(w.digits) || !SSN_SHAPES.test(w.shape.join('-'))) return null;
      const base = w.shape.length === 1 ? 0.4 : groupedScore(w, '3-2-4', 0.5, 0.6);
      return cand('US_SSN', w.start, w.end, numericScore(ctx, base, w, SSN_CONTEXT), this.id);
    }, out);
  },
};

const ITIN_CONTEXT = wordSet('itin taxpayer tax tin individual');
export const itinDetector: Detector = {
  id: 'us.itin',
  entities: ['US_ITIN'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    scanWindows(ctx, { min: 9, max: 9 }, (w) => {
      const d = w.digits;
      if (!SSN_SHAPES.test(w.shape.join('-'))) return null;
      const g = Number(d.slice(3, 5));
      if (d[0] !== '9' || !((g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99))) return null;
      const base = w.shape.length === 1 ? 0.45 : 0.55;
      return cand('US_ITIN', w.start, w.end, numericScore(ctx, base, w, ITIN_CONTEXT), this.id);
    }, out);
  },
};

const PASSPORT_CONTEXT = wordSet('passport passports travel document visa');
const US_PASSPORT_ALPHA = /(?<![A-Za-z0-9])[A-Za-z]\d{8}(?![A-Za-z0-9])/g;
const US_PASSPORT_ALPHA_AT = stickyOf(US_PASSPORT_ALPHA);
/** The digits start right after the letter. */
const PASSPORT_OFFSETS = [1];
export const usPassportDetector: Detector = {
  id: 'us.passport',
  entities: ['US_PASSPORT'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    scanWindows(ctx, { min: 9, max: 9 }, (w) => {
      // Passport numbers are written as one run; a dotted or spaced run is something else.
      if (w.shape.length > 1 || allSameDigit(w.digits)) return null;
      return cand('US_PASSPORT', w.start, w.end, numericScore(ctx, 0.3, w, PASSPORT_CONTEXT), this.id);
    }, out);
    if (!(ctx.flags & F_ALNUM)) return;
    execAt(US_PASSPORT_ALPHA_AT, ctx.text, ctx.startsBeforeDigitRuns(PASSPORT_OFFSETS), (m) => {
      const w = { start: m.index, end: m.index + m[0].length };
      // Lower case ("a12803456") is an obfuscated or sloppy form: still a passport with context.
      const base = m[0].charCodeAt(0) >= 97 ? 0.3 : 0.35;
      out.push(cand('US_PASSPORT', w.start, w.end, numericScore(ctx, base, w, PASSPORT_CONTEXT), this.id));
    });
  },
};

const DL_CONTEXT = wordSet('driver driver\'s drivers license licence dl dmv driving permit lic');
const DL_ALPHA = /(?<![A-Za-z0-9])[A-Za-z]{1,2}\d{5,14}(?![A-Za-z0-9])/g;
const DL_ALPHA_AT = stickyOf(DL_ALPHA);
/** The digits start after one or two letters. */
const DL_OFFSETS = [1, 2];
export const usDriverLicenseDetector: Detector = {
  id: 'us.driver-license',
  entities: ['US_DRIVER_LICENSE'],
  needs: F_DIGIT,
  detect(ctx, out) {
    if (ctx.flags & F_DIGITS7) {
      scanWindows(ctx, { min: 7, max: 14 }, (w) => {
        if (w.shape.length > 1 || allSameDigit(w.digits)) return null;
        return cand('US_DRIVER_LICENSE', w.start, w.end, numericScore(ctx, 0.3, w, DL_CONTEXT), this.id);
      }, out);
    }
    if (!(ctx.flags & F_ALNUM)) return;
    execAt(DL_ALPHA_AT, ctx.text, ctx.startsBeforeDigitRuns(DL_OFFSETS), (m) => {
      const w = { start: m.index, end: m.index + m[0].length };
      const base = m[0].charCodeAt(0) >= 97 ? 0.3 : 0.35;
      out.push(cand('US_DRIVER_LICENSE', w.start, w.end, numericScore(ctx, base, w, DL_CONTEXT), this.id));
    });
  },
};

const BANK_CONTEXT = wordSet('bank account acct checking savings routing aba deposit wire ach');
export const usBankNumberDetector: Detector = {
  id: 'us.bank-number',
  entities: ['US_BANK_NUMBER'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    scanWindows(ctx, { min: 8, max: 17 }, (w) => {
      if (allSameDigit(w.digits)) return null;
      // Written in groups of three or four ("0001 2345 6789") or split digit by digit: an
      // obfuscated form, lower base, so it needs its context word even more.
      const grouped = w.shape.length > 1;
      if (grouped && !w.shape.every((n) => n >= 3 && n <= 4) && !w.shape.every((n) => n <= 2)) return null;
      return cand('US_BANK_NUMBER', w.start, w.end, numericScore(ctx, grouped ? 0.25 : 0.3, w, BANK_CONTEXT), this.id);
    }, out);
  },
};

// ---------------------------------------------------------------- phone numbers
const PHONE_RUN = /(?<![\w+@\/.-])(?:\+|00)?\s?(?:\(\d{1,5}\)[\s.-]?)?\d(?:[\s.-]{0,2}(?:\(\d{1,5}\)[\s.-]?)?\d){5,18}(?!\w|[-.]\w)/g;
const PHONE_CONTEXT = wordSet('phone telephone tel mobile cell call number fax whatsapp contact text sms reach dial landline');
const DATE_LIKE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$/;
const IPV4_LIKE = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const ZIP_PLUS4 = /^\d{5}-\d{4}$/;
/** An IPv4 address (first octet without a leading zero, unlike French 01.42.68.53.00 numbers). */
const IPV4_PREFIX = /^[1-9]\d{0,2}(?:\.\d{1,3}){3}/;
export function phoneDetector(regions: readonly string[]): Detector {
  const countries = regions as CountryCode[];
  return {
    id: 'phone.libphonenumber',
    entities: ['PHONE_NUMBER'],
    needs: F_DIGITS7,
    detect(ctx, out) {
      const text = ctx.text;
      PHONE_RUN.lastIndex = 0;
      for (let m = PHONE_RUN.exec(text); m !== null; m = PHONE_RUN.exec(text)) {
        // A clock read (~50 ns) per run is nothing next to the libphonenumber calls below.
        if (performance.now() > ctx.deadline) throw new DetectorBudgetError();
        const run = m[0].replace(/\s+$/, '');
        const trimmed = run.trim();
        if (DATE_LIKE.test(trimmed) || IPV4_LIKE.test(trimmed) || ZIP_PLUS4.test(trimmed) || IPV4_PREFIX.test(trimmed)) continue;
        const lead = run.length - run.trimStart().length;
        const base = m.index + lead;
        // "+44 7700 900 123" is in a range reserved for fiction, so not "valid"; an
        // international number of possible length is still somebody's phone: fail closed.
        const found: Array<{ s: number; e: number; intl: boolean }> = [];
        const add = (s: number, e: number, intl: boolean): void => {
          for (const f of found) if (s < f.e && e > f.s) {
            if (e - s > f.e - f.s) { f.s = s; f.e = e; f.intl = intl; }
            return;
          }
          found.push({ s, e, intl });
        };
        // Each libphonenumber call costs ~5-10 µs: an international number needs one call,
        // a national one stops at the first region that reads the whole run.
        if (trimmed.startsWith('+')) {
          // One parse of the whole run (~6 µs) before the text scanner (~14 µs): a run that
          // is one possible international number is taken whole, fictional ranges included.
          const whole = parsePhoneNumberFromString(trimmed);
          if (whole?.isPossible() === true) add(0, trimmed.length, true);
          else for (const r of findPhoneNumbersInText(trimmed)) add(r.startsAt, r.endsAt, true);
        }
        // A '+' prefix fixes the country, so the national regions cannot read it differently
        // (libphonenumber ignores defaultCountry then); trying all 14 cost ~100 µs per
        // "+1 415 555 01xx" (a fictional range, not "valid").
        if (!trimmed.startsWith('+') && !(found.length === 1 && found[0]!.s === 0 && found[0]!.e === trimmed.length)) {
          for (const region of countries) {
            for (const r of findPhoneNumbersInText(trimmed, { defaultCountry: region })) add(r.startsAt, r.endsAt, trimmed[r.startsAt] === '+');
            if (found.some((f) => f.s === 0 && f.e === trimmed.length)) break;
          }
        }
        for (const f of found) {
          const value = trimmed.slice(f.s, f.e);
          const formatted = /[\s().-]/.test(value);
          const b = f.intl ? 0.75 : formatted ? 0.6 : 0.4;
          const w = { start: base + f.s, end: base + f.e };
          out.push(cand('PHONE_NUMBER', w.start, w.end, numericScore(ctx, b, w, PHONE_CONTEXT), this.id));
        }
      }
    },
  };
}
