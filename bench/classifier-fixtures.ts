/**
 * Builds test/fixtures/prompts/labelled-prompts.jsonl from the hand-labelled source
 * test/fixtures/prompts/labelled-prompts.txt: `tsc -b && node dist/bench/classifier-fixtures.js`.
 *
 * Labels are written by hand as inline markup ([[P:Jane Doe]]); this script only strips
 * the markup and records where each literal value sits, so offsets never come from the
 * classifier. Each row carries `scope`: the entities whose labels are complete in it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TAGS: Readonly<Record<string, string>> = {
  P: 'PERSON', E: 'EMAIL_ADDRESS', PH: 'PHONE_NUMBER', CC: 'CREDIT_CARD', SSN: 'US_SSN', IBAN: 'IBAN_CODE', S: 'SECRET',
  DOB: 'DATE_OF_BIRTH', MED: 'MEDICAL_TERM', SC: 'SPECIAL_CATEGORY', MRN: 'MEDICAL_RECORD_NUMBER',
};
const LEVELS: Readonly<Record<string, string>> = { p: 'public', i: 'internal', c: 'confidential', r: 'regulated' };

/** Entities labelled completely on every row (a finding of one of these that is not labelled is a false positive). */
export const SCOPE = [
  'PERSON', 'EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'SECRET', 'DATE_OF_BIRTH', 'UK_NHS',
  'MEDICAL_RECORD_NUMBER', 'DE_TAX_ID', 'IN_AADHAAR', 'PL_PESEL', 'ES_NIF', 'IT_FISCAL_CODE', 'CA_SIN',
];

interface Labelled {
  entity: string;
  value: string;
  start: number;
  end: number;
}

export function parseLine(line: string): { text: string; entities: Labelled[]; level: string } {
  const bar = line.indexOf('|');
  const level = LEVELS[line.slice(0, bar)];
  if (bar < 0 || level === undefined) throw new Error(`bad level prefix: ${line.slice(0, 20)}`);
  const src = line.slice(bar + 1);
  const entities: Labelled[] = [];
  let text = '';
  const re = /\[\[([A-Z_]+):(.+?)\]\]/g;
  let last = 0;
  for (let m = re.exec(src); m !== null; m = re.exec(src)) {
    text += src.slice(last, m.index);
    const value = m[2]!;
    const start = text.length;
    text += value;
    entities.push({ entity: TAGS[m[1]!] ?? m[1]!, value, start, end: start + value.length });
    last = m.index + m[0].length;
  }
  text += src.slice(last);
  for (const e of entities) if (text.slice(e.start, e.end) !== e.value) throw new Error(`offset mismatch for ${e.entity}`);
  return { text, entities, level };
}

function main(): void {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  const base = join(dir, 'test', 'fixtures', 'prompts', 'labelled-prompts');
  const rows = readFileSync(`${base}.txt`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => ({ ...parseLine(l), scope: SCOPE }));
  writeFileSync(`${base}.jsonl`, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  process.stdout.write(`${rows.length} prompts, ${rows.reduce((n, r) => n + r.entities.length, 0)} labelled values\n`);
}

main();
