import { allSameDigit, auTfn, deTaxId, esNifLetter, frNir, itFiscalCheck, luhn, plPesel, sgNric, ukNhs, verhoeff } from '../checksums.js';
import { scanWindows } from '../digit-runs.js';
import { alnumRunsOfLength, execAt, F_ALNUM, F_DIGIT, F_DIGITS7, F_UPPER, stickyOf, type Detector, type ScanContext, wordSet } from '../scan-context.js';
import type { Candidate } from '../types.js';
import { STANDALONE_BOOST } from './structured.js';

function cand(entity: string, start: number, end: number, score: number, detector: string): Candidate {
  return { entity, start, end, score: score > 1 ? 1 : score, detector };
}
function scored(ctx: ScanContext, base: number, start: number, end: number, context: ReadonlySet<string>): number {
  let s = ctx.score(base, start, end, context);
  if (ctx.standalone(start, end)) s += STANDALONE_BOOST;
  return s;
}

/**
 * A numeric national id with a check digit: digit windows of `len` digits, optionally
 * restricted to canonical groupings (any grouping is accepted when all groups are
 * single digits or the number is contiguous: obfuscated and plain forms).
 */
function numericId(
  id: string, entity: string, len: number, shapes: string[], valid: (d: string) => boolean, base: number, context: string,
): Detector {
  const words = wordSet(context);
  return {
    id,
    entities: [entity],
    needs: F_DIGITS7,
    detect(ctx, out) {
      scanWindows(ctx, { min: len, max: len }, (w) => {
        const shape = w.shape.join('-');
        const obfuscated = w.shape.every((n) => n <= 2) && w.shape.length >= len / 2;
        if (w.shape.length > 1 && !shapes.includes(shape) && !obfuscated) return null;
        if (allSameDigit(w.digits) || !valid(w.digits)) return null;
        return cand(entity, w.start, w.end, scored(ctx, base, w.start, w.end, words), id);
      }, out);
    },
  };
}

export const ukNhsDetector = numericId('uk.nhs', 'UK_NHS', 10, ['3-3-4'], ukNhs, 0.5, 'nhs health patient');
export const deTaxIdDetector = numericId('de.tax-id', 'DE_TAX_ID', 11, ['2-3-3-3', '3-3-3-2'], deTaxId, 0.45,
  'steuer steuerid steuer-id idnr steueridentifikationsnummer identifikationsnummer tax tin');
export const plPeselDetector = numericId('pl.pesel', 'PL_PESEL', 11, [], plPesel, 0.5, 'pesel');
export const inAadhaarDetector = numericId('in.aadhaar', 'IN_AADHAAR', 12, ['4-4-4'], (d) => /^[2-9]/.test(d) && verhoeff(d), 0.55,
  'aadhaar aadhar uidai uid');
export const caSinDetector = numericId('ca.sin', 'CA_SIN', 9, ['3-3-3'], (d) => d[0] !== '0' && d[0] !== '8' && luhn(d), 0.45,
  'sin social insurance nas assurance sociale');
export const auTfnDetector = numericId('au.tfn', 'AU_TFN', 9, ['3-3-3'], auTfn, 0.45, 'tfn tax file');

// FR NIR: 13 digits + 2-digit key, Corsica "2A"/"2B" in the department, spaces allowed between fields.
const FR_NIR = /(?<![\w])[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AaBb]) ?\d{3} ?\d{3} ?\d{2}(?![\w])/g;
const FR_NIR_AT = stickyOf(FR_NIR);
const FR_CONTEXT = wordSet('nir sécurité securite sociale insee numéro numero secu sécu');
export const frNirDetector: Detector = {
  id: 'fr.nir',
  entities: ['FR_NIR'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    // A match opens with a digit after a non-word character: at a digit-run start.
    execAt(FR_NIR_AT, ctx.text, ctx.digitRunStarts, (m) => {
      if (frNir(m[0].replace(/ /g, ''))) out.push(cand('FR_NIR', m.index, m.index + m[0].length, scored(ctx, 0.7, m.index, m.index + m[0].length, FR_CONTEXT), this.id));
    });
  },
};

const ES_NIF = /(?<![\w-])(\d{7,8})-?([A-Za-z])(?![\w])/g;
const ES_NIE = /(?<![\w-])([XYZxyz])-?(\d{7})-?([A-Za-z])(?![\w])/g;
const ES_NIF_AT = stickyOf(ES_NIF);
const ES_NIE_AT = stickyOf(ES_NIE);
/** An NIE's digits start 1 ("X1234567L") or 2 ("X-1234567-L") characters after its start. */
const NIE_OFFSETS = [1, 2];
const ES_CONTEXT = wordSet('nif nie dni documento identidad identificación identificacion extranjero fiscal');
export const esNifDetector: Detector = {
  id: 'es.nif',
  entities: ['ES_NIF', 'ES_NIE'],
  needs: F_DIGITS7,
  detect(ctx, out) {
    const text = ctx.text;
    // An NIF opens with its digits after a non-word character: at a digit-run start.
    execAt(ES_NIF_AT, text, ctx.digitRunStarts, (m) => {
      if (esNifLetter(Number(m[1])) !== m[2]!.toUpperCase()) return;
      out.push(cand('ES_NIF', m.index, m.index + m[0].length, scored(ctx, 0.75, m.index, m.index + m[0].length, ES_CONTEXT), this.id));
    });
    execAt(ES_NIE_AT, text, ctx.startsBeforeDigitRuns(NIE_OFFSETS), (m) => {
      const lead = 'XYZ'.indexOf(m[1]!.toUpperCase());
      if (esNifLetter(Number(`${lead}${m[2]}`)) !== m[3]!.toUpperCase()) return;
      out.push(cand('ES_NIE', m.index, m.index + m[0].length, scored(ctx, 0.8, m.index, m.index + m[0].length, ES_CONTEXT), this.id));
    });
  },
};

// Codice fiscale, with omocodia (digits replaced by LMNPQRSTUV) in the numeric positions.
const OMO = '[0-9LMNPQRSTUV]';
const IT_CF = new RegExp(`(?<![A-Za-z0-9])[A-Z]{6}${OMO}{2}[ABCDEHLMPRST]${OMO}{2}[A-Z]${OMO}{3}[A-Z](?![A-Za-z0-9])`, 'gi');
const IT_CF_AT = stickyOf(IT_CF);
const IT_CONTEXT = wordSet('codice fiscale cf fiscal');
export const itFiscalCodeDetector: Detector = {
  id: 'it.fiscal-code',
  entities: ['IT_FISCAL_CODE'],
  needs: F_ALNUM,
  detect(ctx, out) {
    // Every character of a match is an ASCII letter or digit and the lookarounds forbid one
    // on either side, so a match is a whole run of exactly 16 of them. (The class is
    // case-insensitive, so "six capitals in a row" would not be a safe pre-check.)
    execAt(IT_CF_AT, ctx.text, alnumRunsOfLength(ctx.text, 16), (m) => {
      const v = m[0];
      // The shape alone is specific (16 chars, letters and digits in fixed places); the
      // check letter raises confidence but a mistyped one is still somebody's code. Mixed
      // case is an obfuscation: kept only when the check letter holds.
      const mixed = v !== v.toUpperCase() && v !== v.toLowerCase();
      const valid = itFiscalCheck(v.toUpperCase());
      if (mixed && !valid) return;
      const base = valid ? (mixed ? 0.85 : 0.95) : 0.6;
      out.push(cand('IT_FISCAL_CODE', m.index, m.index + v.length, scored(ctx, base, m.index, m.index + v.length, IT_CONTEXT), this.id));
    });
  },
};

const IN_PAN = /(?<![A-Za-z0-9])[A-Za-z]{5}\d{4}[A-Za-z](?![A-Za-z0-9])/g;
/** The 4th character is the holder type (P person, C company, …); other letters are not issued. */
const PAN_HOLDER = /^[A-Z]{3}[ABCFGHLJPTK]/;
const IN_PAN_AT = stickyOf(IN_PAN);
/** A PAN's digits start right after its five letters. */
const PAN_OFFSETS = [5];
const PAN_CONTEXT = wordSet('pan permanent account income tax');
export const inPanDetector: Detector = {
  id: 'in.pan',
  entities: ['IN_PAN'],
  needs: F_ALNUM,
  detect(ctx, out) {
    execAt(IN_PAN_AT, ctx.text, ctx.startsBeforeDigitRuns(PAN_OFFSETS), (m) => {
      const v = m[0];
      const base = v !== v.toUpperCase() ? 0.3 : PAN_HOLDER.test(v) ? 0.6 : 0.4;
      out.push(cand('IN_PAN', m.index, m.index + v.length, scored(ctx, base, m.index, m.index + v.length, PAN_CONTEXT), this.id));
    });
  },
};

const SG_NRIC = /(?<![A-Za-z0-9])[A-Za-z]\d{7}[A-Za-z](?![A-Za-z0-9])/g;
const SG_NRIC_AT = stickyOf(SG_NRIC);
/** The digits start right after the prefix letter. */
const NRIC_OFFSETS = [1];
const SG_CONTEXT = wordSet('nric fin singapore ic identity');
export const sgNricDetector: Detector = {
  id: 'sg.nric',
  entities: ['SG_NRIC_FIN'],
  needs: F_ALNUM,
  detect(ctx, out) {
    execAt(SG_NRIC_AT, ctx.text, ctx.startsBeforeDigitRuns(NRIC_OFFSETS), (m) => {
      const v = m[0].toUpperCase();
      const base = /^[STFGM]/.test(v) && sgNric(v) ? 0.85 : 0.3;
      out.push(cand('SG_NRIC_FIN', m.index, m.index + v.length, scored(ctx, base, m.index, m.index + v.length, SG_CONTEXT), this.id));
    });
  },
};

// UK NINO: two prefix letters (minus the never-issued ones), six digits, suffix A-D.
const NINO = /(?<![A-Za-z0-9])(?!bg|gb|nk|kn|nt|tn|zz|BG|GB|NK|KN|NT|TN|ZZ)[A-CEGHJ-PR-TW-Za-ceghj-pr-tw-z][A-CEGHJ-NPR-TW-Za-ceghj-npr-tw-z] ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d](?![A-Za-z0-9])/g;
const NINO_AT = stickyOf(NINO);
/** The digits start after the two prefix letters, with or without a space. */
const NINO_OFFSETS = [2, 3];
const NINO_CONTEXT = wordSet('nino national insurance ni');
export const ukNinoDetector: Detector = {
  id: 'uk.nino',
  entities: ['UK_NINO'],
  needs: F_DIGIT,
  detect(ctx, out) {
    // Six digits in one chain ("12 34 56", "123456"); counting all digits cost a pass over the text.
    if (ctx.digitChain < 6) return;
    execAt(NINO_AT, ctx.text, ctx.startsBeforeDigitRuns(NINO_OFFSETS), (m) => {
      out.push(cand('UK_NINO', m.index, m.index + m[0].length, scored(ctx, 0.6, m.index, m.index + m[0].length, NINO_CONTEXT), this.id));
    });
  },
};

export const nationalIdDetectors: readonly Detector[] = [
  ukNhsDetector, deTaxIdDetector, plPeselDetector, inAadhaarDetector, caSinDetector, auTfnDetector, frNirDetector,
  esNifDetector, itFiscalCodeDetector, inPanDetector, sgNricDetector, ukNinoDetector,
];
