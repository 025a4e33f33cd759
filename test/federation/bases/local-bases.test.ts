import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GatewayError } from '../../../src/domain/errors.js';
import { caller, localBases, principal, tempDir, type Harness } from './support.js';

const staff = principal('sam', { groups: ['staff'] });
const hr = principal('hana', { groups: ['hr', 'staff'] });
const hrWriter = principal('wanda', { groups: ['hr', 'staff'], roles: ['writer'] });
const admin = principal('ada', { roles: ['admin'] });
const restrictedHr = principal('rita', { groups: ['hr', 'staff'], roles: ['restricted'] });
const stranger = principal('sid', { groups: ['contractors'] });

function code(err: unknown): string | undefined {
  return err instanceof GatewayError ? err.code : undefined;
}

const FILLER = 'The committee reviewed routine matters of facilities, parking and cafeteria menus without any decision. ';

const CASE_TEXT = [
  FILLER.repeat(10),
  'Payroll correction: the employee salary is paid to IBAN DE89 3704 0044 0532 0130 00 and the employee social security number 536-22-8123 is on file; contact jane.doe@acme-corp.io for questions.',
  FILLER.repeat(10),
].join('');

describe('LocalBases: access', () => {
  const tmp = tempDir();
  let h: Harness;
  before(async () => {
    h = await localBases({ dir: tmp.dir });
    await h.bases.ingest(caller(hrWriter), { baseId: 'handbook', documentId: 'travel', title: 'Travel', mediaType: 'text/markdown', text: '# Travel\n\nBook zebra-class trains for trips under four hours.' });
    await h.bases.ingest(caller(hrWriter), { baseId: 'hr-cases', documentId: 'case-1', title: 'Case 1', mediaType: 'text/plain', text: 'A zebra complaint about the canteen, resolved.' });
  });
  after(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('lists only the Bases whose access lists and role allowlist both admit the caller', async () => {
    const ids = async (p: typeof staff): Promise<string[]> => (await h.bases.list(caller(p))).map((b) => b.id).sort();
    assert.deepEqual(await ids(staff), ['handbook']);
    assert.deepEqual(await ids(hr), ['handbook', 'hr-cases']);
    assert.deepEqual(await ids(admin), ['handbook'], 'admin is on the handbook role list, but no Base lets admins in by default');
    assert.deepEqual(await ids(restrictedHr), ['handbook'], 'the role allowlist narrows group membership');
    assert.deepEqual(await ids(stranger), []);
    const [handbook] = await h.bases.list(caller(hr));
    assert.deepEqual(handbook, { id: 'handbook', name: 'Employee handbook', description: undefined, deploymentId: 'dep-a', zone: 'on-prem', level: 'internal', documents: 1, local: true });
  });

  it('a hidden Base answers exactly like a missing one, everywhere', async () => {
    for (const id of ['hr-cases', 'locked', 'no-such-base']) {
      await assert.rejects(h.bases.search(caller(staff), { query: 'zebra', bases: [id], limit: 5, purpose: 'search' }), (e) => code(e) === 'base_not_found');
      await assert.rejects(h.bases.documents(caller(staff), id), (e) => code(e) === 'base_not_found');
      await assert.rejects(h.bases.document(caller(staff), id, 'case-1'), (e) => code(e) === 'base_not_found');
    }
    const own = await h.bases.search(caller(staff), { query: 'zebra', limit: 10, purpose: 'search' });
    assert.deepEqual(own.hits.map((x) => x.baseId), ['handbook'], 'an unscoped search covers only readable Bases');
    const hrHits = await h.bases.search(caller(hr), { query: 'zebra', limit: 10, purpose: 'search' });
    assert.deepEqual(hrHits.hits.map((x) => x.baseId).sort(), ['handbook', 'hr-cases']);
    assert.deepEqual(hrHits.deployments, [{ id: 'dep-a', status: 'ok' }]);
  });

  it('writing needs basesWrite as well as read access', async () => {
    await assert.rejects(h.bases.ingest(caller(hr), { baseId: 'handbook', title: 'x', mediaType: 'text/plain', text: 'x' }), (e) => code(e) === 'forbidden');
    const writerNoGroup = principal('wes', { roles: ['writer'] });
    await assert.rejects(h.bases.ingest(caller(writerNoGroup), { baseId: 'hr-cases', title: 'x', mediaType: 'text/plain', text: 'x' }), (e) => code(e) === 'base_not_found');
  });

  it('over federation: the peer lists decide by purpose, and full documents never leave', async () => {
    const viaC = { viaPeer: 'dep-c' };
    const viaB = { viaPeer: 'dep-b' };
    const search = await h.bases.search(caller(hr, viaC), { query: 'zebra', limit: 10, purpose: 'search' });
    assert.deepEqual(search.hits.map((x) => x.baseId), ['handbook'], 'hr-cases has no peers; handbook allows "*" to search');
    await assert.rejects(h.bases.search(caller(hr, viaC), { query: 'zebra', bases: ['handbook'], limit: 5, purpose: 'retrieve' }), (e) => code(e) === 'base_not_found');
    const retrieve = await h.bases.search(caller(hr, viaB), { query: 'zebra', bases: ['handbook'], limit: 5, purpose: 'retrieve' });
    assert.equal(retrieve.hits.length, 1);
    await assert.rejects(h.bases.document(caller(hr, viaB), 'handbook', 'travel'), (e) => code(e) === 'document_not_local');
    await assert.rejects(h.bases.ingest(caller(hrWriter, viaB), { baseId: 'handbook', title: 'x', mediaType: 'text/plain', text: 'x' }), (e) => code(e) === 'forbidden');
    await assert.rejects(h.bases.moves(caller(admin, viaB)), (e) => code(e) === 'forbidden');
    assert.deepEqual((await h.bases.list(caller(hr, viaC))).map((b) => b.id), ['handbook']);
  });
});

describe('LocalBases: snippets', () => {
  const tmp = tempDir();
  let h: Harness;
  before(async () => {
    h = await localBases({ dir: tmp.dir });
    await h.bases.ingest(caller(hrWriter), { baseId: 'hr-cases', documentId: 'payroll', title: 'Payroll case', mediaType: 'text/plain', text: CASE_TEXT });
    await h.bases.ingest(caller(hrWriter), { baseId: 'hr-cases', documentId: 'short', title: 'Short', mediaType: 'text/plain', text: 'A short note on holiday rotas.' });
  });
  after(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('bounded, centred on the match, regulated values masked by default', async () => {
    assert.ok(CASE_TEXT.length > 2000);
    const res = await h.bases.search(caller(hr), { query: 'salary', bases: ['hr-cases'], limit: 5, purpose: 'search' });
    assert.equal(res.hits.length, 1);
    const hit = res.hits[0]!;
    assert.ok(hit.snippet.length <= 300 && hit.snippet.length > 100, `snippet is ${hit.snippet.length} chars`);
    assert.match(hit.snippet, /salary/);
    const at = hit.snippet.indexOf('salary');
    assert.ok(at > 60 && at < 240, `the match (at ${at}) is near the middle`);
    assert.ok(!hit.snippet.includes('DE89') && !hit.snippet.includes('0532 0130'), 'the IBAN is not in the snippet');
    assert.ok(!hit.snippet.includes('536-22'), 'the SSN is not in the snippet');
    assert.match(hit.snippet, /\[IBAN_CODE\]/);
    assert.match(hit.snippet, /\[US_SSN\]/);
    assert.deepEqual(hit.redacted, { IBAN_CODE: 1, US_SSN: 1 });
    assert.match(hit.snippet, /jane\.doe@acme-corp\.io/, 'a confidential value stays at the default level (confidential)');
    assert.equal(hit.withheld, false);
    assert.equal(hit.level, 'regulated');
    assert.equal(hit.documentId, 'payroll');
    assert.equal(hit.sha256, createHash('sha256').update(CASE_TEXT).digest('hex'));
  });

  it('a lower maxSnippetLevel masks more; a higher one cannot unmask', async () => {
    const low = await h.bases.search(caller(hr), { query: 'salary', bases: ['hr-cases'], limit: 5, purpose: 'search', maxSnippetLevel: 'internal' });
    const hit = low.hits[0]!;
    assert.ok(!hit.snippet.includes('jane.doe'));
    assert.equal(hit.redacted.EMAIL_ADDRESS, 1);
    const high = await h.bases.search(caller(hr), { query: 'salary', bases: ['hr-cases'], limit: 5, purpose: 'search', maxSnippetLevel: 'regulated' });
    assert.ok(!high.hits[0]!.snippet.includes('DE89'));
    await assert.rejects(h.bases.search(caller(hr), { query: 'salary', limit: 5, purpose: 'search', maxSnippetLevel: 'secret' }), (e) => code(e) === 'invalid_request');
  });

  it('a deployment configured to show regulated snippets shows them (the mask follows the level)', async () => {
    const tmp2 = tempDir();
    const open = await localBases({ dir: tmp2.dir, bases: { snippetLevel: 'regulated', snippetChars: 1000 } });
    try {
      await open.bases.ingest(caller(hrWriter), { baseId: 'hr-cases', documentId: 'payroll', title: 'Payroll case', mediaType: 'text/plain', text: CASE_TEXT });
      const hit = (await open.bases.search(caller(hr), { query: 'salary', limit: 5, purpose: 'search' })).hits[0]!;
      assert.match(hit.snippet, /DE89 3704 0044 0532 0130 00/);
      assert.deepEqual(hit.redacted, {});
      assert.ok(hit.snippet.length <= 1000);
      assert.ok(hit.snippet.length < CASE_TEXT.length, 'a snippet is never the whole (longer) document');
    } finally {
      await open.close();
      tmp2.cleanup();
    }
  });

  it('a document shorter than snippetChars comes back whole, and limit bounds the hits', async () => {
    const res = await h.bases.search(caller(hr), { query: 'holiday rotas', limit: 5, purpose: 'search' });
    assert.equal(res.hits[0]?.snippet, 'A short note on holiday rotas.');
    const many = await h.bases.search(caller(hr), { query: 'committee', limit: 1, purpose: 'search' });
    assert.equal(many.hits.length, 1);
    const capped = await h.bases.search(caller(hr), { query: 'committee', limit: 10_000, purpose: 'search' });
    assert.ok(capped.hits.length <= 50);
  });
});

describe('LocalBases: ingest, versions, provenance and audit', () => {
  const tmp = tempDir();
  let h: Harness;
  before(async () => {
    h = await localBases({ dir: tmp.dir });
  });
  after(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('same bytes: unchanged; new bytes: version 2 with full provenance; search sees only the current version', async () => {
    const v1 = await h.bases.ingest(caller(hrWriter), { baseId: 'handbook', title: 'Leave Policy', mediaType: 'text/markdown', text: '# Leave\n\nTwenty days of annual leave.', source: 'leave.md' });
    assert.equal(v1.status, 'created');
    assert.equal(v1.documentId, 'leave-policy', 'the id defaults to a slug of the title');
    assert.equal(v1.version, 1);
    assert.equal(v1.sha256, createHash('sha256').update('# Leave\n\nTwenty days of annual leave.').digest('hex'));
    assert.equal(v1.ingestedBy, 'wanda');
    assert.equal(v1.source, 'leave.md');
    assert.equal(v1.mediaType, 'text/markdown');
    assert.equal(v1.deploymentId, 'dep-a');
    assert.equal(v1.level, 'public');
    const same = await h.bases.ingest(caller(hrWriter), { baseId: 'handbook', title: 'Leave Policy', mediaType: 'text/markdown', text: '# Leave\n\nTwenty days of annual leave.' });
    assert.equal(same.status, 'unchanged');
    assert.equal(same.version, 1);
    const v2 = await h.bases.ingest(caller(hrWriter), { baseId: 'handbook', documentId: 'leave-policy', title: 'Leave Policy', mediaType: 'text/markdown', text: '# Leave\n\nThirty days of annual leave.' });
    assert.equal(v2.status, 'updated');
    assert.equal(v2.version, 2);
    assert.deepEqual((await h.bases.search(caller(staff), { query: 'twenty', limit: 5, purpose: 'search' })).hits, []);
    assert.equal((await h.bases.search(caller(staff), { query: 'thirty days', limit: 5, purpose: 'search' })).hits[0]?.version, 2);
    const full = await h.bases.document(caller(staff), 'handbook', 'leave-policy');
    assert.equal(full.text, 'Leave\n\nThirty days of annual leave.', 'the extracted text, markup stripped');
    assert.deepEqual((await h.bases.documents(caller(staff), 'handbook')).map((d) => [d.documentId, d.version]), [['leave-policy', 2]]);
    await assert.rejects(h.bases.document(caller(staff), 'handbook', 'nope'), (e) => code(e) === 'document_not_found');
  });

  it('a document above its Base level is refused, not stored', async () => {
    await assert.rejects(
      h.bases.ingest(caller(hrWriter), { baseId: 'handbook', documentId: 'leak', title: 'Leak', mediaType: 'text/plain', text: CASE_TEXT }),
      (e) => code(e) === 'document_too_sensitive',
    );
    assert.deepEqual((await h.bases.documents(caller(staff), 'handbook')).map((d) => d.documentId), ['leave-policy']);
    assert.deepEqual((await h.bases.search(caller(staff), { query: 'salary', limit: 5, purpose: 'search' })).hits, []);
  });

  it('combination rules apply across the whole document, not just within one chunk', async () => {
    const text = `Notes by Margaret Thompson about the meeting. ${FILLER.repeat(30)}The diagnosis was type 2 diabetes and chemotherapy followed.`;
    await assert.rejects(
      h.bases.ingest(caller(hrWriter), { baseId: 'handbook', documentId: 'combo', title: 'Combo', mediaType: 'text/plain', text }),
      (e) => code(e) === 'document_too_sensitive' && /regulated/.test((e as Error).message),
    );
  });

  it('bad input is a typed error', async () => {
    const bad = async (input: Parameters<typeof h.bases.ingest>[1]): Promise<string | undefined> => h.bases.ingest(caller(hrWriter), input).then(() => undefined, code);
    assert.equal(await bad({ baseId: 'handbook', title: 'x', mediaType: 'image/png', text: 'x' }), 'invalid_document');
    assert.equal(await bad({ baseId: 'handbook', title: 'x', mediaType: 'text/plain' }), 'invalid_request');
    assert.equal(await bad({ baseId: 'handbook', title: 'x', mediaType: 'text/plain', text: 'a', content: new Uint8Array([1]) }), 'invalid_request');
    assert.equal(await bad({ baseId: 'handbook', documentId: '../etc', title: 'x', mediaType: 'text/plain', text: 'x' }), 'invalid_request');
  });

  it('every ingest, search and fetch is audited with ids and counts, never content or query text', async () => {
    const entries = await h.entries();
    const actions = entries.map((e) => `${e.action}:${e.outcome}`);
    assert.deepEqual(actions.slice(0, 3), ['bases.ingest:success', 'bases.ingest:success', 'bases.ingest:success']);
    assert.ok(actions.includes('bases.search:success'));
    assert.ok(actions.includes('bases.document.read:success'));
    assert.ok(actions.includes('bases.ingest:failure'), 'the refused ingest is audited');
    assert.ok(entries.every((e) => e.kind === 'bases'));
    const v2 = entries.find((e) => e.action === 'bases.ingest' && e.data.version === 2);
    assert.equal(v2?.subject, 'handbook/leave-policy');
    assert.equal(v2?.data.status, 'updated');
    assert.equal(v2?.actor, 'wanda');
    const refused = entries.find((e) => e.outcome === 'failure');
    assert.deepEqual(refused?.data.findings, { IBAN_CODE: 1, US_SSN: 1, EMAIL_ADDRESS: 1 });
    const all = JSON.stringify(entries);
    for (const secret of ['thirty', 'Thirty', 'salary', 'DE89', '536-22', 'jane.doe', 'annual leave']) assert.ok(!all.includes(secret), `audit holds no "${secret}"`);
    assert.equal((await h.audit.verify()).ok, true, 'the chain verifies');
  });
});
