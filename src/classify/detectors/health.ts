import { B_HEALTH, B_HEALTH_AMBIG, lexicon, type Lexicon } from '../lexicons/index.js';
import { HEALTH_CONTEXT } from '../lexicons/word-lists.js';
import { execAt, F_ALNUM, F_DIGIT, F_UPPER, stickyOf, type Detector, wordSet } from '../scan-context.js';
import { phraseAt, tokens, tokensNear } from '../tokens.js';

/** Diagnoses, drugs and procedures from the lexicon; ambiguous words ("stroke", "lithium") need health context. */
function medicalTermDetector(lex: Lexicon): Detector {
  return {
    id: 'health.lexicon',
    entities: ['MEDICAL_TERM'],
    needs: 0,
    detect(ctx, out) {
      const toks = tokens(ctx, lex);
      for (let i = 0; i < toks.length; i++) {
        const t = toks[i]!;
        const phrase = phraseAt(ctx, lex, toks, i);
        let bits = t.bits;
        let j = i;
        if (phrase !== null && phrase.bits & B_HEALTH) {
          bits = phrase.bits;
          j = i + phrase.words.length - 1;
        }
        if (!(bits & B_HEALTH)) continue;
        const ambiguous = (bits & B_HEALTH_AMBIG) !== 0;
        let score = ambiguous ? 0.3 : 0.7;
        if (tokensNear(toks, i, j, HEALTH_CONTEXT, 6)) score += ctx.contextBoost;
        out.push({ entity: 'MEDICAL_TERM', start: t.start, end: toks[j]!.end, score: Math.min(1, score), detector: this.id });
        i = j;
      }
    },
  };
}

// ICD-10-CM: letter (not U), two digits (or digit + A/B), optional dot and up to four more.
const ICD10 = /(?<![\w.-])[A-TV-Z]\d[0-9AB](?:\.[0-9A-TV-Z]{1,4})?(?![\w-]|\.\w)/g;
const ICD10_AT = stickyOf(ICD10);
const ICD10_OFFSETS = [1];
const ICD_CONTEXT = wordSet('icd icd-10 icd10 diagnosis diagnoses dx code codes coded billing claim condition');
const icd10Detector: Detector = {
  id: 'health.icd10',
  entities: ['ICD10_CODE'],
  needs: F_UPPER | F_ALNUM,
  detect(ctx, out) {
    // A code's first digit follows its letter, so it starts a digit run: try only there.
    execAt(ICD10_AT, ctx.text, ctx.startsBeforeDigitRuns(ICD10_OFFSETS), (m) => {
      const e = m.index + m[0].length;
      // Bare three-character codes ("C4", "M5", "E11") collide with product names; need context.
      const base = m[0].includes('.') ? 0.5 : 0.2;
      out.push({ entity: 'ICD10_CODE', start: m.index, end: e, score: ctx.score(base, m.index, e, ICD_CONTEXT), detector: this.id });
    });
  },
};

const MRN = /\b(?:MRN|medical record(?: number| no\.?| #)?|patient (?:id|number|no\.?)|chart (?:number|no\.?)|hospital (?:number|no\.?)|health record (?:number|no\.?))\s*(?:is|:|#|=)?\s*[:#]?\s*([A-Z]{0,3}[-]?\d[\d-]{4,14}[A-Z0-9]?)\b/gi;
// One regex scan; five includes() calls on the lower-cased text measured 1.5x slower.
const MRN_HINT = /mrn|record|patient|chart|hospital/i;
function hasIdShape(text: string, at: Int32Array): boolean {
  for (let k = 0; k < at.length; k++) {
    const p = at[k]!;
    let q = p + 1;
    while (q <= p + 4) {
      const c = text.charCodeAt(q);
      if (!((c >= 48 && c <= 57) || c === 45)) break;
      q++;
    }
    if (q > p + 4) return true;
  }
  return false;
}

const mrnDetector: Detector = {
  id: 'health.mrn',
  entities: ['MEDICAL_RECORD_NUMBER'],
  needs: F_DIGIT,
  detect(ctx, out) {
    // Every match holds an id `\d[\d-]{4,}`: look for that shape at the (few) digits
    // before scanning the text for the keywords (the hint scan cost ~4% of prose time).
    if (!hasIdShape(ctx.text, ctx.digitPositions) || !MRN_HINT.test(ctx.text)) return;
    MRN.lastIndex = 0;
    for (let m = MRN.exec(ctx.text); m !== null; m = MRN.exec(ctx.text)) {
      const id = m[1]!;
      const start = m.index + m[0].lastIndexOf(id);
      out.push({ entity: 'MEDICAL_RECORD_NUMBER', start, end: start + id.length, score: 0.85, detector: this.id });
    }
  },
};

export function healthDetectors(): Detector[] {
  return [medicalTermDetector(lexicon()), icd10Detector, mrnDetector];
}
