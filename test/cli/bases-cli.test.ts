import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { tempDir } from '../federation/bases/support.js';
import { startStack, type TestStack } from '../helpers/gateway.js';
import { cliPath } from '../helpers/paths.js';

const run = promisify(execFile);
const KEY = 'sk-perimeter-bases-cli-writer-01';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI as a child process; asynchronous, since the gateway it calls lives in this process. */
async function perimeter(env: Record<string, string>, ...args: string[]): Promise<Result> {
  try {
    const r = await run(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('perimeter bases (CLI against a running gateway)', () => {
  const tmp = tempDir();
  let stack: TestStack;
  let env: Record<string, string>;
  before(async () => {
    stack = await startStack({
      authYaml: `auth:
  keys: [{ id: cli, insecurePlaintext: ${KEY}, owner: cli, roles: [writer] }]
  roles:
    writer: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: ['*'] }
`,
      extraYaml: `bases:
  store: { kind: sqlite, path: ${tmp.dir}/bases.db }
  definitions:
    - { id: handbook, name: Handbook, level: internal, access: { roles: [writer] } }
`,
    });
    env = { PERIMETER_API_KEY: KEY };
  });
  after(async () => {
    await stack.close();
    tmp.cleanup();
  });

  it('ingests a .md and a .pdf, then finds both', async () => {
    const md = join(tmp.dir, 'onboarding-guide.md');
    writeFileSync(md, '# Onboarding\n\nNew starters collect a **laptop** from the service desk on day one.\n');
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    pdf.addPage([600, 400]).drawText('Laptop returns go to the service desk when you leave.', { x: 40, y: 340, size: 12, font });
    const pdfPath = join(tmp.dir, 'offboarding.pdf');
    const pdfBytes = await pdf.save();
    writeFileSync(pdfPath, pdfBytes);

    const ingest = await perimeter(env, 'bases', 'ingest', '--base', 'handbook', '--url', stack.url, md, pdfPath);
    assert.equal(ingest.code, 0, ingest.stderr);
    const lines = ingest.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /^created handbook\/onboarding-guide v1 \(1 chunks, public, sha256 [0-9a-f]{12}\)/);
    assert.match(lines[1] ?? '', new RegExp(`^created handbook/offboarding v1 .*sha256 ${createHash('sha256').update(pdfBytes).digest('hex').slice(0, 12)}`), 'the recorded hash is the file’s own');

    const again = await perimeter(env, 'bases', 'ingest', '--base', 'handbook', '--url', stack.url, md);
    assert.match(again.stdout, /^unchanged handbook\/onboarding-guide v1/);

    const search = await perimeter(env, 'bases', 'search', '--url', stack.url, 'laptop service desk');
    assert.equal(search.code, 0, search.stderr);
    assert.match(search.stdout, /default:handbook\/onboarding-guide v1 #0 {2}onboarding-guide/);
    assert.match(search.stdout, /default:handbook\/offboarding v1 #0 {2}offboarding/);
    assert.match(search.stdout, /New starters collect a laptop/);

    const json = await perimeter(env, 'bases', 'search', '--url', stack.url, '--json', '--base', 'handbook', '--limit', '1', 'laptop');
    const parsed = JSON.parse(json.stdout) as { hits: unknown[] };
    assert.equal(parsed.hits.length, 1);
  });

  it('fails clearly: no key, unknown Base, unsupported file', async () => {
    const noKey = await perimeter({}, 'bases', 'search', '--url', stack.url, 'laptop');
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /PERIMETER_API_KEY/);
    const file = join(tmp.dir, 'a.txt');
    writeFileSync(file, 'text');
    const unknown = await perimeter(env, 'bases', 'ingest', '--base', 'nope', '--url', stack.url, file);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /a\.txt: base_not_found: Base "nope" was not found\./);
    const docx = join(tmp.dir, 'a.docx');
    writeFileSync(docx, 'x');
    const bad = await perimeter(env, 'bases', 'ingest', '--base', 'handbook', '--url', stack.url, docx);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unsupported file type "\.docx"/);
  });
});
