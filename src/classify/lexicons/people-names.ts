import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Real given and family names from @cspell/dict-people-names (MIT, ~39k entries, one
 * per line, no first/last distinction). faker's English surnames are synthetic
 * (Sullivan, Rhodes, Gates, Wong were missing), which cost PERSON recall; this list
 * has them. Read from the package's files when a classifier is built, never at import.
 */

const PACKAGE_MANIFEST = '@cspell/dict-people-names/cspell-ext.json';
/** The file the package has shipped so far; the manifest is read first in case a release moves or compresses it. */
const DEFAULT_DICT = './dict/people-names.txt';
const ENTRY = /^\p{Lu}[\p{L}'’-]*\p{L}$/u;

/**
 * The dictionary's entries that look like one name word ("Sullivan", "O'Brien",
 * "Jean-Luc"); comment lines and odd entries ("Patricia 1.") are dropped. Throws when
 * the package is missing: a classifier without its name lexicon would under-classify
 * silently, and construction is the place to fail.
 */
export function loadPeopleNames(): string[] {
  const require = createRequire(import.meta.url);
  // The package's `exports` expose only its cspell manifest, so resolve that and read
  // the dictionary path it declares (a JSONC file: comments, so a regex, not JSON.parse).
  const manifest = require.resolve(PACKAGE_MANIFEST);
  const declared = /"path"\s*:\s*"([^"]+\.txt(?:\.gz)?)"/.exec(readFileSync(manifest, 'utf8'))?.[1] ?? DEFAULT_DICT;
  const file = join(dirname(manifest), declared);
  const raw = readFileSync(file);
  const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const w = line.trim();
    if (w === '' || w.startsWith('#')) continue;
    if (ENTRY.test(w)) out.push(w);
  }
  if (out.length < 1000) throw new Error(`people-names dictionary at ${file} has ${out.length} entries; expected tens of thousands`);
  return out;
}
