import { allLocales } from '@faker-js/faker';
import { daleChall } from 'dale-chall';
import { loadPeopleNames } from './people-names.js';
import { WordIndex } from './word-index.js';
import {
  ABOUT_PERSON, HEALTH_CONTEXT, PERSON_CONTEXT, EXTRA_COMMON, HEALTH_AMBIGUOUS, HEALTH_TERMS, KNOWN_ORGS, NRP_AMBIGUOUS, NRP_TERMS, ORG_SUFFIXES, SPECIAL_TERMS, TITLES,
  PRODUCT_NAMES, WORLD_PLACES,
} from './word-lists.js';

/**
 * Token lexicon: lower-cased word → bit set of what it can be. Given and family names
 * come from @faker-js/faker's locale data (≈30 Latin-script locales, ~20k given and
 * ~15k family names, MIT) and @cspell/dict-people-names (~39k real name words, MIT;
 * faker's English surnames are synthetic), real place names from faker's location data,
 * and "is this an everyday English word" from the Dale–Chall list of 2,942 familiar
 * words (dale-chall, MIT) plus faker's English word lists, which is what separates
 * "Will"/"May"/"Rose" from "Sarah". No model, no download.
 */
export const B_FIRST = 1 << 0;
export const B_LAST = 1 << 1;
export const B_COMMON = 1 << 2;
export const B_TITLE = 1 << 3;
export const B_NRP = 1 << 4;
export const B_NRP_AMBIG = 1 << 5;
export const B_SPECIAL = 1 << 6;
export const B_HEALTH = 1 << 7;
export const B_HEALTH_AMBIG = 1 << 8;
export const B_LOC = 1 << 9;
export const B_ORG = 1 << 10;
export const B_ORG_SUFFIX = 1 << 11;
/** First word of at least one multi-word phrase. */
export const B_PHRASE = 1 << 12;
/** A context word of some detector (kept in the token list for proximity checks). */
export const B_CONTEXT = 1 << 13;
/** A real name word (given or family) from @cspell/dict-people-names, everyday words included ("Baker", "Hood"). */
export const B_NAME = 1 << 14;
/** An English word from faker's word lists (nouns, verbs, adjectives …): not "unknown", though not Dale–Chall. */
export const B_WORD = 1 << 15;
/**
 * A country, state, region or major city (faker's countries and states, WORLD_PLACES).
 * B_LOC alone may be a small US town from faker's city list, and many of those are
 * surnames ("Thornton", "Allen"): after a given name they read as surnames.
 */
export const B_PLACE = 1 << 16;
/** Bits that matter only on a capitalised token: lower-case tokens with nothing else are dropped by the tokenizer. */
export const B_CAPS_ONLY = B_COMMON | B_FIRST | B_LAST | B_NAME | B_WORD | B_LOC | B_PLACE;

export interface Phrase {
  words: string[];
  bits: number;
}

export interface Lexicon {
  bits: Map<string, number>;
  /** First word → phrases starting with it, longest first. */
  phrases: Map<string, Phrase[]>;
  /** `bits` as a hash index probed straight from the text (see WordIndex). */
  index: WordIndex;
  /**
   * The words with a bit that matters on a lower-case token (context, phrase, health,
   * NRP, title …): a few thousand, so probing it for the many lower-case words of prose
   * stays in cache, where the full index (~100k words) does not.
   */
  lowerIndex: WordIndex;
}

const NAME_LOCALES = [
  'en', 'en_US', 'en_GB', 'en_AU', 'en_CA', 'en_IE', 'en_IN', 'en_NG', 'en_ZA', 'de', 'de_AT', 'de_CH', 'fr', 'fr_CA', 'fr_CH',
  'es', 'es_MX', 'it', 'pt_BR', 'pt_PT', 'nl', 'nl_BE', 'pl', 'sv', 'nb_NO', 'da', 'fi', 'cs_CZ', 'sk', 'hu', 'ro', 'hr', 'tr',
  'id_ID', 'vi', 'lv', 'af_ZA', 'zu_ZA', 'yo_NG', 'ro_MD', 'sr_RS_latin', 'uz_UZ_latin', 'az', 'ga',
];
const PLACE_LOCALES = ['en', 'en_GB', 'en_AU', 'en_CA', 'en_IN', 'de', 'fr', 'es', 'it', 'nl', 'pl'];

let cached: Lexicon | undefined;

function values(x: unknown): string[] {
  if (x == null) return [];
  if (typeof x === 'string') return [x];
  if (Array.isArray(x)) return x.flatMap(values);
  if (typeof x === 'object') return Object.values(x).flatMap(values);
  return [];
}

/** Builds the lexicon on first use (≈50 ms) and shares it between classifiers. */
export function lexicon(): Lexicon {
  if (cached !== undefined) return cached;
  const bits = new Map<string, number>();
  const phrases = new Map<string, Phrase[]>();
  const add = (term: string, bit: number): void => {
    const words = term.toLowerCase().split(/[\s&]+/).filter((w) => w !== '');
    if (words.length === 0) return;
    if (words.length === 1) {
      const w = words[0]!;
      bits.set(w, (bits.get(w) ?? 0) | bit);
      return;
    }
    const first = words[0]!;
    bits.set(first, (bits.get(first) ?? 0) | B_PHRASE);
    // Later words of a phrase must survive the token filter (which drops unknown lower-case words).
    for (const w of words.slice(1)) bits.set(w, (bits.get(w) ?? 0) | B_CONTEXT);
    const list = phrases.get(first) ?? [];
    const existing = list.find((p) => p.words.join(' ') === words.join(' '));
    if (existing) existing.bits |= bit;
    else list.push({ words, bits: bit });
    phrases.set(first, list);
  };
  const locales = allLocales as unknown as Record<string, { person?: Record<string, unknown>; location?: Record<string, unknown> }>;
  for (const code of NAME_LOCALES) {
    const person = locales[code]?.person;
    if (!person) continue;
    for (const n of values(person.first_name)) if (/^[\p{Lu}][\p{L}'-]+$/u.test(n)) add(n, B_FIRST);
    for (const n of values(person.middle_name)) if (/^[\p{Lu}][\p{L}'-]+$/u.test(n)) add(n, B_FIRST);
    for (const n of values(person.last_name)) if (/^[\p{Lu}][\p{L}'-]+$/u.test(n)) add(n, B_LAST);
  }
  const placeName = (n: string): boolean => /^[\p{Lu}][\p{L}' .-]+$/u.test(n) && !n.includes('#');
  for (const code of PLACE_LOCALES) {
    const loc = locales[code]?.location;
    if (!loc) continue;
    for (const n of [...values(loc.country), ...values(loc.state), ...values(loc.continent)]) if (placeName(n)) add(n, B_LOC | B_PLACE);
    for (const n of values(loc.city_name)) if (placeName(n)) add(n, B_LOC);
  }
  for (const p of WORLD_PLACES) add(p, B_LOC | B_PLACE);
  for (const w of daleChall) add(w, B_COMMON);
  for (const w of EXTRA_COMMON) add(w, B_COMMON);
  for (const w of PRODUCT_NAMES) add(w, B_COMMON);
  const english = locales['en'] as { word?: Record<string, unknown> } | undefined;
  for (const w of values(english?.word)) if (/^[a-z]+$/.test(w)) add(w, B_WORD);
  // Real names: B_NAME only. faker's B_FIRST/B_LAST keep their meaning (a name list the
  // lone-word rules trust); the person rules read B_NAME where a second signal exists
  // (a given name before it, a capital mid-sentence, a role word). Made B_LAST outright,
  // the 39k entries turned "Code", "Agent", "Nobel", "Pride" into lone surnames: tuning
  // PERSON precision fell from 0.987 to 0.949 (6 new false positives, 2 names gained).
  for (const n of loadPeopleNames()) add(n, B_NAME);
  for (const w of TITLES) add(w, B_TITLE);
  for (const w of NRP_TERMS) add(w, B_NRP);
  for (const w of NRP_AMBIGUOUS) add(w, B_NRP_AMBIG);
  for (const w of SPECIAL_TERMS) add(w, B_SPECIAL);
  for (const w of HEALTH_TERMS) add(w, B_HEALTH);
  for (const w of HEALTH_AMBIGUOUS) add(w, B_HEALTH_AMBIG);
  for (const w of KNOWN_ORGS) add(w, B_ORG);
  for (const w of ORG_SUFFIXES) add(w.replace(/\.$/, ''), B_ORG_SUFFIX);
  for (const set of [PERSON_CONTEXT, HEALTH_CONTEXT, ABOUT_PERSON]) for (const w of set) add(w, B_CONTEXT);
  for (const w of ['name', 'named', 'called', 'surname', 'nom', 'nombre', 'heiße', 'heisse', 'is']) add(w, B_CONTEXT);
  for (const list of phrases.values()) list.sort((a, b) => b.words.length - a.words.length);
  const lowerIndex = new WordIndex([...bits].filter(([, b]) => (b & ~B_CAPS_ONLY) !== 0));
  cached = { bits, phrases, index: new WordIndex(bits), lowerIndex };
  return cached;
}
