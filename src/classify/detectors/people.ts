import {
  B_COMMON, B_CONTEXT, B_FIRST, B_LAST, B_LOC, B_NRP, B_NRP_AMBIG, B_ORG, B_ORG_SUFFIX, B_SPECIAL, B_TITLE, lexicon, type Lexicon,
} from '../lexicons/index.js';
import { ABOUT_PERSON, BIRTH_CONTEXT, PERSON_CONTEXT } from '../lexicons/word-lists.js';
import { F_DIGIT, F_UPPER, type Detector, type ScanContext } from '../scan-context.js';
import { phraseAt, tokens, tokensNear, type Token } from '../tokens.js';
import type { Candidate } from '../types.js';

/**
 * People and places from lexicons, capitalisation and context, in one pass over the
 * shared token list. Measured against the published baseline for `compromise`
 * (PERSON recall 0.60 / precision 0.79 at 20–60 KB/s): see bench/CLASSIFIER-RESULTS.md.
 */

const NAME_PHRASE_BEFORE = new Set(['name', 'named', 'called', 'surname', 'nom', 'nombre', 'heiße', 'heisse']);

function cand(entity: string, start: number, end: number, score: number, detector: string): Candidate {
  return { entity, start, end, score: score > 1 ? 1 : score, detector };
}

/** Capitalised tokens following each other with one space, or ". " after an initial. */
function capRun(ctx: ScanContext, toks: Token[], i: number): number {
  let j = i;
  while (j + 1 < toks.length && j - i < 4) {
    const a = toks[j]!;
    const b = toks[j + 1]!;
    if (!b.cap) break;
    const gap = ctx.text.slice(a.end, b.start);
    // "R. Nixon", "Mr. May": an initial or a title may be followed by ". ".
    const abbrev = a.end - a.start === 1 || (a.bits & B_TITLE) !== 0;
    if (!(gap === ' ' || (abbrev && gap === '. ') || gap === '-')) break;
    j++;
  }
  return j;
}

/** Tokens are adjacent words of the text (the token list skips everyday words, so check the gap). */
function adjacent(ctx: ScanContext, a: Token, b: Token): boolean {
  return b.start - a.end <= 3 && /^[\s:,=*"'“—–-]*$/.test(ctx.text.slice(a.end, b.start));
}

/** "name: X", "called X", "my name is X". */
function nameIntroBefore(ctx: ScanContext, toks: Token[], i: number): boolean {
  if (i === 0) return false;
  const p = toks[i - 1]!;
  if (!adjacent(ctx, p, toks[i]!)) return false;
  if (NAME_PHRASE_BEFORE.has(p.lower)) return true;
  return p.lower === 'is' && i > 1 && toks[i - 2]!.lower === 'name' && adjacent(ctx, toks[i - 2]!, p);
}

/** Months and weekdays are capitalised mid-sentence in English without being names ("in May"). */
const CALENDAR = new Set(['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']);
/** Words directly before a token that say it is addressed to or by a person ("ask Will", "ping Sam", "cc Rose"). */
// Verbs only: after prepositions ("by Revenue", "from Ruby on Rails") capitals are titles and products.
const ADDRESSING = new Set(['ask', 'asks', 'asked', 'tell', 'told', 'ping', 'remind', 'invite', 'cc', 'thank', 'thanks', 'dear', 'hi', 'hello', 'hey', 'congratulate', 'email', 'call']);
const MC_PREFIX = /^(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|O)[A-Z]/;

/**
 * Capital explained by position: the start of the text, of a line or of a sentence
 * (after . ! ? : ; or a bullet). Such a capital says nothing; a capital elsewhere does.
 */
function sentenceInitial(ctx: ScanContext, t: Token): boolean {
  let k = t.start - 1;
  while (k >= 0 && /[\s"'“‘(\[*]/.test(ctx.text[k]!)) {
    if (ctx.text[k] === '\n') return true;
    k--;
  }
  return k < 0 || /[.!?:;•#>|]/.test(ctx.text[k]!);
}

/** PascalCase or camelCase identifiers ("InvoiceParser") are code, not names; "McDonald" and "DeVries" are. */
function codeIdentifier(ctx: ScanContext, t: Token): boolean {
  const w = ctx.text.slice(t.start, t.end);
  return /[a-z][A-Z]/.test(w) && !MC_PREFIX.test(w);
}

/** The token before i, if it is the adjacent word. */
function wordBefore(ctx: ScanContext, toks: Token[], i: number): Token | null {
  if (i === 0) return null;
  const p = toks[i - 1]!;
  return adjacent(ctx, p, toks[i]!) ? p : null;
}

function isName(t: Token): boolean {
  return (t.bits & (B_FIRST | B_LAST)) !== 0;
}

function personDetector(lex: Lexicon): Detector {
  return {
    id: 'person.lexicon',
    entities: ['PERSON', 'LOCATION', 'ORGANIZATION'],
    needs: F_UPPER,
    detect(ctx, out) {
      const toks = tokens(ctx, lex);
      for (let i = 0; i < toks.length; i++) {
        const t = toks[i]!;
        if (!t.cap) continue;
        // Multi-word places and organisations first ("New York", "Deutsche Bank").
        const phrase = phraseAt(ctx, lex, toks, i);
        if (phrase !== null && phrase.bits & (B_LOC | B_ORG)) {
          const last = toks[i + phrase.words.length - 1]!;
          out.push(cand(phrase.bits & B_ORG ? 'ORGANIZATION' : 'LOCATION', t.start, last.end, 0.75, this.id));
          i += phrase.words.length - 1;
          continue;
        }
        if (codeIdentifier(ctx, t)) continue;
        let j = capRun(ctx, toks, i);
        // An all-caps run is a name only when every token is a known name (forms: "JOHN SMITH").
        if (t.allCaps && !toks.slice(i, j + 1).every((x) => x.allCaps && isName(x))) {
          i = j;
          continue;
        }
        // Organisation: a capitalised run ending in a company/institution word. Leading
        // everyday words ("Her National Insurance") are sentence capitals, not part of a name.
        let k = i;
        let orgStart = i;
        while (orgStart < j && toks[orgStart]!.bits & B_COMMON && !isName(toks[orgStart]!)) orgStart++;
        k = orgStart;
        while (k <= j && !(toks[k]!.bits & B_ORG_SUFFIX)) k++;
        if (k <= j && k > orgStart) {
          out.push(cand('ORGANIZATION', toks[orgStart]!.start, toks[k]!.end, 0.7, this.id));
          i = k;
          continue;
        }
        if (t.bits & B_ORG && !(t.bits & (B_FIRST | B_LAST))) {
          out.push(cand('ORGANIZATION', t.start, t.end, 0.7, this.id));
          continue;
        }
        // Title + name: "Mr. Mayers", "Dr Smith".
        if (t.bits & B_TITLE && j > i) {
          const s = toks[i + 1]!;
          const e = toks[j]!;
          out.push(cand('PERSON', s.start, e.end, 0.85, this.id));
          i = j;
          continue;
        }
        const run = toks.slice(i, j + 1);
        const first = run[0]!;
        const firstCommon = (first.bits & B_COMMON) !== 0;
        const firstIsGiven = (first.bits & B_FIRST) !== 0;
        const afterNamePhrase = nameIntroBefore(ctx, toks, i);
        let score = 0;
        let end = j;
        if (run.length >= 2) {
          // Keep name-like tokens: known names, initials, or capitalised words that are not everyday words or places.
          end = i;
          for (let m = i + 1; m <= j; m++) {
            const x = toks[m]!;
            if (codeIdentifier(ctx, x)) break;
            // After an unambiguous given name, an everyday word is still a surname ("Dan Tailor", "Dan May").
            // Not after a place that is also a given name ("Paris Agreement").
            const strongFirst = firstIsGiven && !firstCommon && !(first.bits & B_LOC) && m === i + 1 && !(x.bits & (B_LOC | B_ORG_SUFFIX | B_ORG));
            const nameLike = strongFirst || isName(x) || x.end - x.start === 1 || !(x.bits & (B_COMMON | B_LOC | B_ORG_SUFFIX | B_ORG));
            if (!nameLike) break;
            end = m;
          }
          const second = toks[Math.min(end, i + 1)]!;
          if (end > i) {
            const secondUnknown = (second.bits & ~B_CONTEXT) === 0;
            if (firstIsGiven && !firstCommon && !(first.bits & B_LOC)) score = 0.85;
            else if (firstIsGiven && second.bits & B_LAST && !(second.bits & B_COMMON)) score = 0.75;
            else if (first.bits & B_LAST && !firstCommon && second.bits & B_LAST && !(second.bits & B_COMMON)) score = 0.6;
            else if (afterNamePhrase && !(first.bits & (B_LOC | B_ORG))) score = 0.75;
            // A given name that is also an everyday word ("Hope", "Drew", "Penny") followed by a
            // capitalised surname, known or not in the lexicon: the second capital has no
            // sentence-start excuse. Months stay out ("May Sullivan" is rare, "June Update" is not).
            else if (
              firstIsGiven && !(second.bits & (B_LOC | B_ORG | B_ORG_SUFFIX | B_NRP)) &&
              (secondUnknown || (second.bits & B_LAST && !(second.bits & B_COMMON)) ||
                (!CALENDAR.has(first.lower) && !(first.bits & B_LOC) && second.bits & (B_LAST | B_FIRST)))
            ) score = 0.65;
            // An unknown capitalised word before a known surname ("Jürgen Weber", "Siobhán Kelly").
            else if ((first.bits & ~B_CONTEXT) === 0 && !first.allCaps && second.bits & B_LAST && !(second.bits & (B_COMMON | B_LOC | B_ORG))) score = 0.6;
          }
          if (score === 0) end = i;
        }
        if (score === 0) {
          // One token on its own.
          const unknown = (t.bits & ~B_CONTEXT) === 0;
          const before = wordBefore(ctx, toks, i);
          const addressed = before !== null && ADDRESSING.has(before.lower);
          const midSentence = !sentenceInitial(ctx, t);
          if (afterNamePhrase && !(t.bits & (B_LOC | B_ORG)) && (!firstCommon || isName(t))) score = 0.8;
          else if (firstIsGiven && !firstCommon && !(t.bits & (B_LOC | B_ORG | B_NRP))) score = 0.6;
          // "Ask Will whether…", "cc Rose": a given name that is also a word, capitalised
          // mid-sentence right after a verb or preposition of addressing.
          else if (firstIsGiven && addressed && midSentence && !CALENDAR.has(t.lower) && !(t.bits & (B_LOC | B_ORG | B_NRP))) score = 0.6;
          // "Ask Priyanka to…": a word no lexicon knows, in the same spot.
          else if (unknown && addressed && midSentence && !t.allCaps) score = 0.6;
          else if (isName(t) && !(t.bits & (B_LOC | B_NRP | B_ORG))) score = firstCommon ? 0.1 : 0.3;
          // Speaker labels in notes and transcripts ("; Lucia: flaky tests").
          else if (isName(t) && !firstCommon && !t.allCaps && ctx.text[t.end] === ':' && !midSentence && !(t.bits & (B_LOC | B_ORG | B_NRP))) score = 0.6;
          if (score > 0 && score < 0.6 && tokensNear(toks, i, i, PERSON_CONTEXT, 3)) score += ctx.contextBoost;
        }
        if (score > 0) {
          out.push(cand('PERSON', t.start, toks[end]!.end, score, this.id));
          i = Math.max(i, end);
          continue;
        }
        if (t.bits & B_LOC && !firstCommon) out.push(cand('LOCATION', t.start, t.end, 0.7, this.id));
        // Skip the rest of a run of non-names, unless it began with an everyday word: a
        // sentence-initial verb ("Ask Priyanka to…") must not hide the name after it.
        i = Math.max(i, j > i && !firstCommon && run.every((x) => !isName(x)) ? j : i);
      }
    },
  };
}

function nrpDetector(lex: Lexicon): Detector {
  return {
    id: 'nrp.lexicon',
    entities: ['NRP', 'SPECIAL_CATEGORY'],
    needs: 0,
    detect(ctx, out) {
      const toks = tokens(ctx, lex);
      for (let i = 0; i < toks.length; i++) {
        const t = toks[i]!;
        const phrase = phraseAt(ctx, lex, toks, i);
        let bits = t.bits;
        let j = i;
        if (phrase !== null && phrase.bits & (B_NRP | B_SPECIAL)) {
          bits = phrase.bits;
          j = i + phrase.words.length - 1;
        }
        if (!(bits & (B_NRP | B_SPECIAL))) continue;
        const ambiguous = (bits & B_NRP_AMBIG) !== 0 || (t.bits & B_NRP_AMBIG) !== 0;
        const about = tokensNear(toks, i, j, ABOUT_PERSON, 4);
        // Ambiguous words (languages, colours, "conservative") count only when said about someone.
        const score = ambiguous ? (about ? 0.6 : 0.2) : about ? 0.85 : 0.55;
        out.push(cand(bits & B_SPECIAL ? 'SPECIAL_CATEGORY' : 'NRP', t.start, toks[j]!.end, score, this.id));
        i = j;
      }
    },
  };
}

// ---------------------------------------------------------------- ADDRESS
const STREET_SUFFIX = '(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Crescent|Close|Grove|Gardens|Row|Mews|Trail|Alley)';
const US_STREET = new RegExp(
  `(?<![\\w-])\\d{1,6}[A-Za-z]?\\s+(?:[NSEW]\\.?\\s+)?(?:[A-Z][a-z'’-]+\\.?\\s+){1,4}${STREET_SUFFIX}\\b\\.?` +
    `(?:,?\\s+(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|#)\\.?\\s*#?[\\w-]{1,6})?` +
    `(?:,\\s*[A-Z][a-zA-Z]+(?:\\s[A-Z][a-zA-Z]+){0,2})?(?:,?\\s*[A-Z]{2}\\s+\\d{5}(?:-\\d{4})?)?`,
  'g',
);
const EU_STREET = /(?<![\w-])[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|laan|straat|gracht|plein|vej|gatan|gata|veien)\s+\d{1,4}[a-z]?(?:,\s*\d{4,5}\s+[A-ZÄÖÜ][a-zäöüß]+(?:\s[A-Z][a-z]+)?)?/g;
const FR_STREET = /(?<![\w-])\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|calle|avenida|via|viale|piazza|corso)\s+(?:(?:de|du|des|la|le|del|della|di)\s+)*[A-ZÉÈ][\w'’-]+(?:\s+[A-ZÉÈ][\w'’-]+){0,3}(?:,\s*\d{5}\s+[A-ZÉÈ][\w'’-]+)?/giu;
const UK_POSTCODE = /(?<![A-Za-z0-9])(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])/g;
/** Each street pattern with a literal pre-check (a suffix word before/after a number). */
const STREETS: Array<[RegExp, RegExp]> = [
  [US_STREET, new RegExp(`\\d\\s+[A-Z][^\\n]{0,80}?\\b${STREET_SUFFIX}\\b`)],
  [EU_STREET, /(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|laan|straat|gracht|plein|vej|gatan|gata|veien)\s+\d/],
  [FR_STREET, /\d,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|calle|avenida|via|viale|piazza|corso)\s/i],
];
const ADDRESS_CONTEXT = new Set(['address', 'lives', 'live', 'living', 'resides', 'residence', 'home', 'ship', 'shipping', 'deliver', 'delivery', 'mail', 'billing', 'postcode', 'anschrift', 'adresse', 'dirección']);

const addressDetector: Detector = {
  id: 'address.street',
  entities: ['ADDRESS'],
  needs: F_DIGIT,
  detect(ctx, out) {
    const text = ctx.text;
    for (const [re, hint] of STREETS) {
      if (!hint.test(text)) continue;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        out.push(cand('ADDRESS', m.index, m.index + m[0].length, ctx.score(0.75, m.index, m.index + m[0].length, ADDRESS_CONTEXT), this.id));
      }
    }
    if (!(ctx.flags & F_UPPER)) return;
    UK_POSTCODE.lastIndex = 0;
    for (let m = UK_POSTCODE.exec(text); m !== null; m = UK_POSTCODE.exec(text)) {
      // A postcode alone is a coarse area; with address context it completes an address.
      out.push(cand('ADDRESS', m.index, m.index + m[0].length, ctx.score(0.3, m.index, m.index + m[0].length, ADDRESS_CONTEXT), this.id));
    }
  },
};

// ---------------------------------------------------------------- DATE_OF_BIRTH, AGE
const MONTH = '(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)';
const DATE = new RegExp(
  `(?<![\\w/.-])(?:\\d{4}-\\d{1,2}-\\d{1,2}|\\d{1,2}[./-]\\d{1,2}[./-](?:\\d{4}|\\d{2})|\\d{1,2}(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH}\\.?,?\\s+\\d{4}|${MONTH}\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4})(?![\\w/-])`,
  'gi',
);
const DOB_WORDS = /\b(?:born|birth|birthday|dob|d\.o\.b\.?|birthdate|geboren|geburtsdatum|née?|naissance|nacimiento|nascita)\b/i;

const dobDetector: Detector = {
  id: 'date-of-birth.context',
  entities: ['DATE_OF_BIRTH'],
  needs: F_DIGIT,
  detect(ctx, out) {
    const text = ctx.text;
    // Only texts that talk about birth can hold a date of birth: one cheap test first.
    if (!DOB_WORDS.test(text) && !ctx.pathWords.some((w) => BIRTH_CONTEXT.has(w))) return;
    DATE.lastIndex = 0;
    for (let m = DATE.exec(text); m !== null; m = DATE.exec(text)) {
      const s = m.index;
      const e = s + m[0].length;
      // A date is a date of birth only next to birth words (Presidio's DATE_TIME is not PII on its own).
      const window = text.slice(Math.max(0, s - 40), s) + ' ' + text.slice(e, e + 12);
      const near = DOB_WORDS.test(window) || ctx.pathWords.some((w) => BIRTH_CONTEXT.has(w));
      if (near) out.push(cand('DATE_OF_BIRTH', s, e, 0.85, this.id));
    }
  },
};

const AGE = /(?<![\w.])(?:(\d{1,3})[\s-]*(?:years?|yrs?|y\/o|yo)[\s-]*old\b|(\d{1,3})[\s-]*(?:y\/o|yo|y\.o\.)(?!\w)|(?:aged?|Age)[:\s]+(\d{1,3})\b|(\d{1,3})-year-old\b)/gi;
const AGE_HINT = /year|yrs|age|y\/o|yo\b|y\.o\./i;
const ageDetector: Detector = {
  id: 'age.pattern',
  entities: ['AGE'],
  needs: F_DIGIT,
  detect(ctx, out) {
    if (!AGE_HINT.test(ctx.text)) return;
    AGE.lastIndex = 0;
    for (let m = AGE.exec(ctx.text); m !== null; m = AGE.exec(ctx.text)) {
      const n = Number(m[1] ?? m[2] ?? m[3] ?? m[4]);
      if (n > 120) continue;
      out.push(cand('AGE', m.index, m.index + m[0].length, 0.8, this.id));
    }
  },
};

export function peopleDetectors(): Detector[] {
  const lex = lexicon();
  return [personDetector(lex), nrpDetector(lex), addressDetector, dobDetector, ageDetector];
}
