import {
  B_COMMON, B_CONTEXT, B_FIRST, B_LAST, B_LOC, B_NAME, B_NRP, B_NRP_AMBIG, B_ORG, B_ORG_SUFFIX, B_PLACE, B_SPECIAL, B_TITLE, B_WORD,
  lexicon, type Lexicon,
} from '../lexicons/index.js';
import { ABOUT_PERSON, BIRTH_CONTEXT, PERSON_CONTEXT } from '../lexicons/word-lists.js';
import { F_DIGIT, F_UPPER, execAt, isJsSpace, type Detector, type ScanContext } from '../scan-context.js';
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
    if (!b.cap) {
      // "Daan de Vries", "Ludwig van Beethoven": a lower-case particle between a name and a capital.
      const q = particleEnd(ctx, toks, j);
      if (q < 0) break;
      j = q;
      continue;
    }
    // The gap read by char codes: slicing it for every pair of capitals cost more than the test.
    const text = ctx.text;
    const len = b.start - a.end;
    const g0 = text.charCodeAt(a.end);
    // "R. Nixon", "Mr. May": an initial or a title may be followed by ". ".
    const abbrev = a.end - a.start === 1 || (a.bits & B_TITLE) !== 0;
    const joined = len === 1 ? g0 === 32 || g0 === 45 : len === 2 && abbrev && g0 === 46 && text.charCodeAt(a.end + 1) === 32;
    if (!(joined || (anyName(a) && !(a.bits & B_LOC) && PARTICLE_GAP.test(text.slice(a.end, b.start))))) break;
    j++;
  }
  return j;
}

/** Nobiliary and patronymic particles between parts of one name. */
const PARTICLE_GAP = /^ (?:de|van|von|der|den|da|di|del|della|du|dos|das|do|ten|ter|bin|ibn|al|el|le|la|zu)(?: (?:der|den|de|la|le|los|las))? $/;

/** When tokens j+1… are a particle ("de", "van der") kept as tokens, the index of the capital after them; else -1. */
function particleEnd(ctx: ScanContext, toks: Token[], j: number): number {
  const a = toks[j]!;
  if (!anyName(a) || a.bits & B_LOC) return -1;
  for (let q = j + 1; q < toks.length && q <= j + 3; q++) {
    if (!toks[q]!.cap) continue;
    return PARTICLE_GAP.test(ctx.text.slice(a.end, toks[q]!.start)) ? q : -1;
  }
  return -1;
}

/** Tokens are adjacent words of the text (the token list skips everyday words, so check the gap). */
function adjacent(ctx: ScanContext, a: Token, b: Token): boolean {
  if (b.start - a.end > 3) return false;
  // /^[\s:,=*"'“—–-]*$/ on the gap, by char codes.
  for (let k = a.end; k < b.start; k++) {
    const c = ctx.text.charCodeAt(k);
    if (!(isJsSpace(c) || c === 58 || c === 44 || c === 61 || c === 42 || c === 34 || c === 39 || c === 0x201c || c === 0x2014 || c === 0x2013 || c === 45)) return false;
  }
  return true;
}

function hasComma(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (text.charCodeAt(k) === 44) return true;
  return false;
}

/**
 * "name: X", "my name is X" (2); "named X", "called X" (2 after a person noun or at the
 * start, 1 after anything else: "a Cat named Software", "a class called Parser"); 0: none.
 */
function nameIntroBefore(ctx: ScanContext, toks: Token[], i: number): number {
  if (i === 0) return 0;
  const p = toks[i - 1]!;
  // "Name, Email, Phone" is a list of column headers, not "name: X".
  if (!adjacent(ctx, p, toks[i]!) || hasComma(ctx.text, p.end, toks[i]!.start)) return 0;
  if (NAME_PHRASE_BEFORE.has(p.lower)) {
    if (p.lower !== 'named' && p.lower !== 'called') return 2;
    const w = textWordBefore(ctx, p);
    return w === '' || PERSON_NOUNS.has(w) ? 2 : 1;
  }
  return p.lower === 'is' && i > 1 && toks[i - 2]!.lower === 'name' && adjacent(ctx, toks[i - 2]!, p) ? 2 : 0;
}

/** Months and weekdays are capitalised mid-sentence in English without being names ("in May"). */
const CALENDAR = new Set(['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']);
/** Words directly before a token that say it is addressed to or by a person ("ask Will", "ping Sam", "cc Rose"). */
// Verbs only: after prepositions ("by Revenue", "from Ruby on Rails") capitals are titles and products.
const ADDRESSING = new Set(['ask', 'asks', 'asked', 'tell', 'told', 'ping', 'remind', 'invite', 'cc', 'thank', 'thanks', 'dear', 'hi', 'hello', 'hey', 'congratulate', 'email', 'call', 'let']);
const MC_PREFIX = /^(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|O)[A-Z]/;

/**
 * Capital explained by position: the start of the text, of a line or of a sentence
 * (after . ! ? : ; or a bullet). Such a capital says nothing; a capital elsewhere does.
 */
function sentenceInitial(ctx: ScanContext, t: Token): boolean {
  // By char codes: a regex test per character was ~2% of chat time.
  const text = ctx.text;
  let k = t.start - 1;
  for (; k >= 0; k--) {
    const c = text.charCodeAt(k);
    if (c === 10) return true;
    // [\s"'“‘(\[*]
    if (!(isJsSpace(c) || c === 34 || c === 39 || c === 0x201c || c === 0x2018 || c === 40 || c === 91 || c === 42)) break;
  }
  if (k < 0) return true;
  const c = text.charCodeAt(k);
  // [.!?:;•#>|]
  return c === 46 || c === 33 || c === 63 || c === 58 || c === 59 || c === 0x2022 || c === 35 || c === 62 || c === 124;
}

/** PascalCase or camelCase identifiers ("InvoiceParser") are code, not names; "McDonald" and "DeVries" are. */
function codeIdentifier(ctx: ScanContext, t: Token): boolean {
  // /[a-z][A-Z]/ by char codes first; most capitalised words have no inner capital.
  const text = ctx.text;
  let inner = false;
  for (let k = t.start + 1; k < t.end; k++) {
    const c = text.charCodeAt(k);
    const p = text.charCodeAt(k - 1);
    if (c >= 65 && c <= 90 && p >= 97 && p <= 122) {
      inner = true;
      break;
    }
  }
  return inner && !MC_PREFIX.test(text.slice(t.start, t.end));
}

/** The token before i, if it is the adjacent word. */
function wordBefore(ctx: ScanContext, toks: Token[], i: number): Token | null {
  if (i === 0) return null;
  const p = toks[i - 1]!;
  return adjacent(ctx, p, toks[i]!) ? p : null;
}

function allCapsNames(toks: Token[], i: number, j: number): boolean {
  for (let k = i; k <= j; k++) if (!(toks[k]!.allCaps && isName(toks[k]!))) return false;
  return true;
}

function noneNames(toks: Token[], i: number, j: number): boolean {
  for (let k = i; k <= j; k++) if (anyName(toks[k]!)) return false;
  return true;
}

function isName(t: Token): boolean {
  return (t.bits & (B_FIRST | B_LAST)) !== 0;
}

/** In some name list: faker's given or family names, or the real-names dictionary (everyday words included). */
function anyName(t: Token): boolean {
  return (t.bits & (B_FIRST | B_LAST | B_NAME)) !== 0;
}

/** A dictionary name that is no everyday word: "Sullivan", "Thornton", "Wong", "Shakespeare". */
function realName(t: Token): boolean {
  return (t.bits & B_NAME) !== 0 && (t.bits & (B_COMMON | B_WORD)) === 0;
}

/** Reads as a family name after a given name: a surname from either list, not an everyday word. */
function surnameLike(t: Token): boolean {
  return ((t.bits & B_LAST) !== 0 || realName(t)) && (t.bits & B_COMMON) === 0;
}

/** Known to no lexicon except, perhaps, as a real name: the spot where an unlisted name ("Niamh", "Jürgen") sits. */
function unknownish(t: Token): boolean {
  return (t.bits & ~(B_CONTEXT | B_NAME)) === 0;
}

/**
 * A place that cannot be a surname: a country, state or major city, or a town that is in
 * no name list. faker's US towns include surnames ("Bill Thornton"), which stay surnames.
 */
function placeNotName(t: Token): boolean {
  return (t.bits & B_PLACE) !== 0 || ((t.bits & B_LOC) !== 0 && !anyName(t));
}

/** Roles written before a name ("Candidate Jean Tremblay", "Caller Robert Mills"): context, not part of the name. */
const ROLE_WORDS = new Set(['patient', 'customer', 'client', 'employee', 'applicant', 'candidate', 'tenant', 'member', 'user', 'contact',
  'manager', 'colleague', 'caller', 'agent', 'speaker', 'holder', 'guest', 'student', 'resident', 'subscriber', 'buyer', 'seller',
  'vendor', 'supplier', 'recipient', 'sender', 'author', 'owner', 'reviewer', 'assignee', 'reporter', 'requester', 'attendee', 'witness',
  'claimant', 'insured', 'policyholder', 'beneficiary', 'account', 'engineer', 'developer', 'intern', 'contractor', 'consultant', 'lead']);
/** A determiner right before a capitalised run: "the Paris Agreement", "our Summer Sale". Names rarely take one. */
const DETERMINERS = new Set(['the', 'a', 'an', 'our', 'your', 'their', 'its', 'this', 'that', 'these', 'those', 'every', 'each', 'any', 'some', 'no']);
/** Nouns for people before "named"/"called": "a customer named X". After "a Cat named", "a class called", X is no person. */
const PERSON_NOUNS = new Set(['man', 'woman', 'guy', 'girl', 'boy', 'lady', 'gentleman', 'person', 'someone', 'somebody', 'anyone', 'friend',
  'colleague', 'customer', 'client', 'patient', 'employee', 'user', 'candidate', 'applicant', 'kid', 'child', 'son', 'daughter', 'brother',
  'sister', 'mother', 'father', 'husband', 'wife', 'partner', 'student', 'teacher', 'doctor', 'nurse', 'engineer', 'manager', 'character',
  'me', 'him', 'her', 'herself', 'himself', 'myself', 'i', 'he', 'she', 'who', 'guest', 'caller', 'agent', 'tenant', 'member', 'people']);
/** Verbs that take a person as subject: "Niamh suggested…", "Okoro said…". */
const HUMAN_VERBS = new Set(['said', 'says', 'asked', 'asks', 'suggested', 'suggests', 'wrote', 'writes', 'mentioned', 'replied', 'agreed',
  'disagreed', 'proposed', 'complained', 'apologised', 'apologized', 'thinks', 'thought', 'told', 'promised', 'emailed', 'texted', 'wants',
  'recommended', 'explained', 'insisted', 'admitted', 'joined', 'joins', 'retired', 'resigned']);
/** Teams after "X from …": "Rose from billing", "Tom from HR". */
const DEPARTMENTS = new Set(['billing', 'sales', 'support', 'finance', 'legal', 'hr', 'it', 'marketing', 'accounting', 'accounts', 'ops',
  'operations', 'engineering', 'security', 'procurement', 'payroll', 'compliance', 'facilities', 'design', 'product', 'research', 'admin',
  'reception', 'logistics', 'recruiting', 'recruitment', 'customer', 'tech', 'management', 'qa', 'devops', 'infra', 'infrastructure', 'data']);
/** Context words so common near any capital ("Pride and Prejudice", "from Ruby on Rails") that they cannot lift a dictionary-only name. */
// Pronouns too: in "he can take Eid off" the pronoun is someone else.
const WEAK_CONTEXT = new Set(['and', 'with', 'by', 'from', 'per', 'via', 'best', 'welcome', 'cheers', 'call', 'names', 'met', 'meet', 'forward',
  'he', 'she', 'his', 'her', 'let']);
/** Words that open a place name: "Lake Tahoe", "Mount Rainier", "Fort Worth". */
const PLACE_PREFIX = new Set(['lake', 'mount', 'mt', 'fort', 'port', 'cape', 'isle', 'loch', 'glen', 'point', 'lago', 'monte', 'san', 'santa', 'saint', 'st']);

/**
 * Nouns that turn a name before them into the name of a thing: "Marshall Plan", "Drake
 * equation", "Dijkstra's algorithm", "Monroe Doctrine", "Ryder Cup", "Kalman filter".
 */
const EPONYM_NOUNS = new Set(['plan', 'cup', 'doctrine', 'equation', 'equations', 'algorithm', 'law', 'laws', 'theorem', 'principle', 'effect',
  'prize', 'award', 'act', 'agreement', 'treaty', 'accords', 'accord', 'rule', 'distribution', 'transform', 'method', 'filter', 'test',
  'scale', 'index', 'syndrome', 'disease', 'conjecture', 'hypothesis', 'paradox', 'constant', 'number', 'series', 'curve', 'model',
  'trophy', 'medal', 'lecture', 'fellowship', 'scholarship', 'memorial', 'sauce', 'diet', 'cocktail', 'problem', 'inequality', 'lemma']);

/** The lower-case word right after token t (skipping one space), or ''. */
function wordAfter(ctx: ScanContext, t: Token): string {
  const m = /^[ \t]([a-z]+)\b/.exec(ctx.text.slice(t.end, t.end + 24));
  return m === null ? '' : m[1]!;
}

/** The word after a run (any case, past a possessive "'s") is a thing named after it. */
function eponymAfter(ctx: ScanContext, t: Token): boolean {
  const m = /^(?:['’]s)?[ -]([A-Za-z]+)\b/.exec(ctx.text.slice(t.end, t.end + 24));
  return m !== null && EPONYM_NOUNS.has(m[1]!.toLowerCase());
}

/** "X from billing", "X from the sales team", "X from HR". */
function fromDepartment(ctx: ScanContext, t: Token): boolean {
  const m = /^ from (?:the )?([A-Za-z]+)\b/.exec(ctx.text.slice(t.end, t.end + 40));
  return m !== null && DEPARTMENTS.has(m[1]!.toLowerCase());
}

/**
 * The lower-cased word directly before token t in the text (tokens skip everyday words,
 * so read the text). A backward scan: the anchored regex it replaced (/([A-Za-z]+)[ \t]+$/
 * on a 24-character slice) backtracked from every position and cost 7% of a 2 KB chat
 * request (--cpu-prof), as it runs for each capitalised word.
 */
function textWordBefore(ctx: ScanContext, t: Token): string {
  const text = ctx.text;
  let k = t.start - 1;
  const stop = Math.max(0, t.start - 24);
  while (k >= stop && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k--;
  if (k === t.start - 1) return '';
  const end = k + 1;
  while (k >= stop && isAsciiLetter(text.charCodeAt(k))) k--;
  return end - k > 1 ? ctx.lower.slice(k + 1, end) : '';
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** "Hiro: …", "; Lucia: …": a capitalised word directly before a colon, at the start of an utterance. */
function speakerLabel(ctx: ScanContext, t: Token): boolean {
  if (ctx.text.charCodeAt(t.end) !== 58 || t.allCaps) return false;
  let k = t.start - 1;
  while (k >= 0 && (ctx.text[k] === ' ' || ctx.text[k] === '\t')) k--;
  if (k < 0) return true;
  // Normalisation has turned "—" and "–" into "-": a spaced dash ("notes - Hiro:") opens an utterance too.
  if (ctx.text[k] === '-') return k === 0 || ctx.text[k - 1] === ' ';
  return /[\n.;!?|\]>)"'“”]/.test(ctx.text[k]!);
}

/** Context words near token i, without the ones too common to count for a dictionary-only name. */
function strongContextNear(toks: Token[], i: number): boolean {
  const reach = 18;
  const t = toks[i]!;
  for (let k = i - 1; k >= 0 && toks[k]!.end >= t.start - reach; k--) if (PERSON_CONTEXT.has(toks[k]!.lower) && !WEAK_CONTEXT.has(toks[k]!.lower)) return true;
  for (let k = i + 1; k < toks.length && toks[k]!.start <= t.end + reach; k++) if (PERSON_CONTEXT.has(toks[k]!.lower) && !WEAK_CONTEXT.has(toks[k]!.lower)) return true;
  return false;
}

function personDetector(lex: Lexicon): Detector {
  return {
    id: 'person.lexicon',
    entities: ['PERSON', 'LOCATION', 'ORGANIZATION'],
    needs: F_UPPER,
    detect(ctx, out) {
      const toks = tokens(ctx, lex);
      // Speaker labels ("Hiro: …; Lucia: …") name people when at least one of them is a
      // known given name; then the unlisted ones are names too.
      let givenLabels = 0;
      for (const t of toks) if (t.cap && t.bits & B_FIRST && !(t.bits & B_COMMON) && speakerLabel(ctx, t)) givenLabels++;
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
        // A role before a name is context, not part of it ("Candidate Jean Tremblay").
        if (ROLE_WORDS.has(t.lower) && !isName(t) && i + 1 < toks.length && toks[i + 1]!.cap && adjacent(ctx, t, toks[i + 1]!)) continue;
        let j = capRun(ctx, toks, i);
        // An all-caps run is a name only when every token is a known name (forms: "JOHN SMITH").
        if (t.allCaps && !allCapsNames(toks, i, j)) {
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
        // "Lake Tahoe", "Mount Rainier": a place, whatever the name after the prefix.
        if (PLACE_PREFIX.has(t.lower) && j > i && !(t.bits & B_TITLE)) {
          out.push(cand('LOCATION', t.start, toks[j]!.end, 0.7, this.id));
          i = j;
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
        const runLength = j - i + 1;
        const first = t;
        const firstCommon = (first.bits & B_COMMON) !== 0;
        const firstIsGiven = (first.bits & B_FIRST) !== 0;
        const intro = nameIntroBefore(ctx, toks, i);
        const afterNamePhrase = intro !== 0;
        // "the Paris Agreement", "our Summer Sale": a determiner says the capitals are a title, not a name.
        // Read lazily (most runs never ask), without a closure per capitalised word.
        let det = -1;
        let score = 0;
        let end = j;
        if (runLength >= 2) {
          // Keep name-like tokens: known names, initials, or capitalised words that are not everyday words or places.
          end = i;
          for (let m = i + 1; m <= j; m++) {
            const x = toks[m]!;
            if (codeIdentifier(ctx, x) || EPONYM_NOUNS.has(x.lower)) break;
            // After an unambiguous given name, an everyday word is still a surname ("Dan Tailor", "Dan May").
            // Not after a place that is also a given name ("Paris Agreement").
            const strongFirst = firstIsGiven && !firstCommon && !(first.bits & B_LOC) && m === i + 1 && !(x.bits & (B_LOC | B_ORG_SUFFIX | B_ORG));
            // After any given name, a real-names entry of 4+ letters is a surname even when it is
            // an everyday word ("Drew Baker", "Robin Hood") or a small town ("Bill Thornton").
            const dictSurname = m === i + 1 && anyName(first) && !(first.bits & B_CONTEXT) && !CALENDAR.has(first.lower) && x.bits & B_NAME && x.end - x.start >= 4 &&
              !placeNotName(x) && !(x.bits & (B_ORG_SUFFIX | B_ORG | B_NRP));
            // An all-caps word after a capitalised one ("Mi NIE es…") is an acronym unless a given name comes first ("Maria GARCIA").
            if (x.allCaps && !firstIsGiven) break;
            const nameLike = strongFirst || dictSurname || isName(x) || x.end - x.start === 1 || !(x.bits & (B_COMMON | B_LOC | B_ORG_SUFFIX | B_ORG));
            if (!nameLike) break;
            end = m;
          }
          const second = toks[Math.min(end, i + 1)]!;
          if (end > i) {
            const secondUnknown = (second.bits & ~B_CONTEXT) === 0;
            const secondFree = !placeNotName(second) && !(second.bits & (B_ORG | B_ORG_SUFFIX | B_NRP));
            // Two everyday words in Title Case continuing ("Will Power and Habit Formation") are a heading.
            const headingAfter = firstCommon && second.bits & B_COMMON && /^(?: and| &| of| or| for| in| vs\.?|:)? [A-Z]/.test(ctx.text.slice(toks[end]!.end, toks[end]!.end + 8));
            if (headingAfter) score = 0;
            else if (firstIsGiven && !firstCommon && !(first.bits & B_LOC)) score = 0.85;
            else if (firstIsGiven && surnameLike(second) && secondFree) score = 0.75;
            // Two surnames or dictionary names ("Mei Ling Wong", "Okafor Daniels").
            else if ((first.bits & B_LAST || realName(first)) && !firstCommon && !(first.bits & B_PLACE) && surnameLike(second) && secondFree) score = 0.6;
            else if (afterNamePhrase && !(first.bits & (B_LOC | B_ORG))) score = 0.75;
            // A given name that is also an everyday word ("Hope", "Drew", "Penny") followed by a
            // capitalised surname, known or not in the lexicon: the second capital has no
            // sentence-start excuse. Months stay out ("May Sullivan" is rare, "June Update" is not).
            else if (
              firstIsGiven && !((det < 0 ? (det = DETERMINERS.has(textWordBefore(ctx, first)) ? 1 : 0) : det) === 1) && secondFree &&
              (secondUnknown || surnameLike(second) ||
                (!CALENDAR.has(first.lower) && !(first.bits & B_LOC) && second.bits & (B_LAST | B_FIRST | B_NAME)))
            ) score = 0.65;
            // A dictionary name that is an everyday word, before a real surname ("Rich Edwards", "Bill Gates").
            else if (anyName(first) && !(first.bits & B_CONTEXT) && !(second.bits & B_FIRST) && !((det < 0 ? (det = DETERMINERS.has(textWordBefore(ctx, first)) ? 1 : 0) : det) === 1) && !CALENDAR.has(first.lower) && !(first.bits & B_PLACE) && surnameLike(second) && secondFree) score = 0.65;
            // An unknown capitalised word before a known surname ("Jürgen Weber", "Siobhán Kelly").
            else if (unknownish(first) && !first.allCaps && !((det < 0 ? (det = DETERMINERS.has(textWordBefore(ctx, first)) ? 1 : 0) : det) === 1) && surnameLike(second) && secondFree) score = 0.6;
          }
          if (score === 0) end = i;
        }
        if (score === 0) {
          // One token on its own.
          const unknown = unknownish(t);
          const before = wordBefore(ctx, toks, i);
          const addressed = before !== null && ADDRESSING.has(before.lower);
          const midSentence = !sentenceInitial(ctx, t);
          const noPlace = !(t.bits & (B_LOC | B_ORG | B_NRP));
          // "named Software" after "a Cat": only a known name, or a word after a person noun, is a name.
          if (afterNamePhrase && !(t.bits & (B_LOC | B_ORG)) && (!firstCommon || isName(t)) && (intro === 2 || anyName(t))) score = 0.8;
          else if (firstIsGiven && !firstCommon && noPlace) score = 0.6;
          // "Ask Will whether…", "cc Rose": a given name that is also a word, capitalised
          // mid-sentence right after a verb or preposition of addressing.
          else if (firstIsGiven && addressed && midSentence && !CALENDAR.has(t.lower) && noPlace) score = 0.6;
          // "Ask Priyanka to…": a word no lexicon knows, in the same spot.
          else if (unknown && addressed && midSentence && !t.allCaps) score = 0.6;
          // "Rose from billing", "Tom from HR".
          else if (anyName(t) && !t.allCaps && !CALENDAR.has(t.lower) && !(t.bits & (B_PLACE | B_ORG | B_NRP)) && fromDepartment(ctx, t)) score = 0.6;
          // "…, Niamh suggested I reach out": a capitalised name or unlisted word as the subject of a verb of speech.
          else if ((unknown || surnameLike(t)) && !t.allCaps && !(t.bits & (B_PLACE | B_ORG | B_NRP)) && HUMAN_VERBS.has(wordAfter(ctx, t))) score = 0.6;
          // Speaker labels in notes and transcripts ("; Lucia: flaky tests"), and unlisted names among them.
          else if (speakerLabel(ctx, t) && !(t.bits & (B_LOC | B_ORG | B_NRP | B_COMMON | B_WORD)) && (isName(t) ? !midSentence || givenLabels > 0 : givenLabels > 0)) score = 0.6;
          // "Shakespeare's Hamlet": a dictionary name, mid-sentence, owning something.
          else if (realName(t) && midSentence && !t.allCaps && !(t.bits & (B_PLACE | B_ORG | B_NRP)) && !((det < 0 ? (det = DETERMINERS.has(textWordBefore(ctx, first)) ? 1 : 0) : det) === 1) && /^['’]s\b/.test(ctx.text.slice(t.end, t.end + 3))) score = 0.6;
          else if (isName(t) && !(t.bits & (B_LOC | B_NRP | B_ORG))) {
            score = firstCommon ? 0.1 : 0.3;
            if (tokensNear(toks, i, i, PERSON_CONTEXT, 3)) score += ctx.contextBoost;
          } else if (realName(t) && midSentence && !t.allCaps && !(t.bits & (B_PLACE | B_ORG | B_NRP)) && !((det < 0 ? (det = DETERMINERS.has(textWordBefore(ctx, first)) ? 1 : 0) : det) === 1)) {
            // A name only the real-names dictionary knows: it holds "Code", "Pride" and "Nobel"
            // too, so only a role, a pronoun or an addressing word nearby lifts it.
            score = 0.3;
            if (strongContextNear(toks, i)) score += ctx.contextBoost;
          }
        }
        // "the Marshall Plan", "Newton's laws": the name of a thing, not of a person (titles aside).
        if (score > 0 && eponymAfter(ctx, toks[end]!)) score = 0;
        if (score > 0) {
          out.push(cand('PERSON', t.start, toks[end]!.end, score, this.id));
          i = Math.max(i, end);
          continue;
        }
        if (t.bits & B_LOC && !firstCommon) out.push(cand('LOCATION', t.start, t.end, 0.7, this.id));
        // Skip the rest of a run of non-names, unless it began with an everyday word: a
        // sentence-initial verb ("Ask Priyanka to…") must not hide the name after it.
        i = Math.max(i, j > i && !firstCommon && noneNames(toks, i, j) ? j : i);
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
/**
 * Literal pre-checks, each tried only next to a digit (ctx.digitPositions): the US and
 * French forms start at a digit (sticky regexes there), the German/Dutch/Nordic form ends
 * at one (its street word is read back from the digit). Scanning the whole text with
 * these alternations cost ~9% of prose time (perf); prose has few digits.
 */
const US_HINT = new RegExp(`\\d\\s+[A-Z][^\\n]{0,80}?\\b${STREET_SUFFIX}\\b`, 'y');
const EU_SUFFIX_END = /(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|laan|straat|gracht|plein|vej|gatan|gata|veien)$/;
/** The longest street word in EU_SUFFIX_END. */
const EU_SUFFIX_MAX = 7;
const FR_HINT = /\d,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|calle|avenida|via|viale|piazza|corso)\s/iy;
const STREETS: RegExp[] = [US_STREET, EU_STREET, FR_STREET];
const UK_POSTCODE_AT = new RegExp(UK_POSTCODE.source, 'y');
const ADDRESS_CONTEXT = new Set(['address', 'lives', 'live', 'living', 'resides', 'residence', 'home', 'ship', 'shipping', 'deliver', 'delivery', 'mail', 'billing', 'postcode', 'anschrift', 'adresse', 'dirección']);

/**
 * `re` (sticky) tried at the digits whose next characters can start it: `\s+` then a
 * capital (US), or `,?\s+` then a letter (French). Checked by char codes first, as most
 * digits in prose ("in 2023 the", "4.2 fixed") fail there.
 */
function stickyAtAny(re: RegExp, text: string, at: Int32Array, comma: boolean): boolean {
  for (let k = 0; k < at.length; k++) {
    const p = at[k]!;
    let q = p + 1;
    if (comma && text.charCodeAt(q) === 44) q++;
    const ws = q;
    while (isJsSpace(text.charCodeAt(q))) q++;
    if (q === ws) continue;
    const c = text.charCodeAt(q);
    if (comma ? !((c | 32) >= 97 && (c | 32) <= 122) : !(c >= 65 && c <= 90)) continue;
    re.lastIndex = p;
    if (re.test(text)) return true;
  }
  return false;
}

/** `street-word \s+ digit`: the whitespace before a digit, then the word before it. */
function euHint(text: string, at: Int32Array): boolean {
  for (let k = 0; k < at.length; k++) {
    let q = at[k]! - 1;
    while (q >= 0 && isJsSpace(text.charCodeAt(q))) q--;
    if (q === at[k]! - 1 || q < 0) continue;
    if (EU_SUFFIX_END.test(text.slice(Math.max(0, q + 1 - EU_SUFFIX_MAX), q + 1))) return true;
  }
  return false;
}

const addressDetector: Detector = {
  id: 'address.street',
  entities: ['ADDRESS'],
  needs: F_DIGIT,
  detect(ctx, out) {
    const text = ctx.text;
    const at = ctx.digitPositions;
    const hints = [stickyAtAny(US_HINT, text, at, false), euHint(text, at), stickyAtAny(FR_HINT, text, at, true)];
    for (let r = 0; r < STREETS.length; r++) {
      if (!hints[r]) continue;
      const re = STREETS[r]!;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        out.push(cand('ADDRESS', m.index, m.index + m[0].length, ctx.score(0.75, m.index, m.index + m[0].length, ADDRESS_CONTEXT), this.id));
      }
    }
    if (!(ctx.flags & F_UPPER)) return;
    // A postcode has a digit 1-4 characters after its first letter ("SW1A 1AA", "GIR 0AA").
    const starts: number[] = [];
    let next = 0;
    for (let k = 0; k < at.length; k++) {
      const p = at[k]!;
      // Only at a capital: GIR or a letter of [A-PR-UWYZ].
      for (let s = Math.max(next, p - 4); s < p; s++) {
        const c = text.charCodeAt(s);
        if (c >= 65 && c <= 90) starts.push(s);
      }
      next = Math.max(next, p);
    }
    execAt(UK_POSTCODE_AT, text, starts, (m) => {
      // A postcode alone is a coarse area; with address context it completes an address.
      out.push(cand('ADDRESS', m.index, m.index + m[0].length, ctx.score(0.3, m.index, m.index + m[0].length, ADDRESS_CONTEXT), this.id));
    });
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
const AGE_AT = new RegExp(AGE.source, 'iy');
/**
 * Where an AGE match can start: at the first digit of a number ("42 years old"), or at
 * "age"/"aged" before `[:\s]+` and the number ("Age: 42"). The regex is tried only there
 * (execAt) instead of over the whole text (~3% of prose time).
 */
function ageStarts(text: string, at: Int32Array): number[] {
  const starts: number[] = [];
  for (let k = 0; k < at.length; k++) {
    const p = at[k]!;
    if (p > 0 && text.charCodeAt(p - 1) >= 48 && text.charCodeAt(p - 1) <= 57) continue;
    let q = p - 1;
    while (q >= 0 && (text.charCodeAt(q) === 58 || isJsSpace(text.charCodeAt(q)))) q--;
    if (q < p - 1) {
      if (q >= 3) starts.push(q - 3);
      if (q >= 2) starts.push(q - 2);
    }
    starts.push(p);
  }
  return starts.sort((a, b) => a - b);
}
const ageDetector: Detector = {
  id: 'age.pattern',
  entities: ['AGE'],
  needs: F_DIGIT,
  detect(ctx, out) {
    if (!AGE_HINT.test(ctx.text)) return;
    execAt(AGE_AT, ctx.text, ageStarts(ctx.text, ctx.digitPositions), (m) => {
      const n = Number(m[1] ?? m[2] ?? m[3] ?? m[4]);
      if (n <= 120) out.push(cand('AGE', m.index, m.index + m[0].length, 0.8, this.id));
    });
  },
};

export function peopleDetectors(): Detector[] {
  const lex = lexicon();
  return [personDetector(lex), nrpDetector(lex), addressDetector, dobDetector, ageDetector];
}
