import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { startStack, type TestStack } from '../helpers/gateway.js';
import { tempDir } from '../federation/bases/support.js';

const READER = 'sk-perimeter-bases-reader-0001';
const WRITER = 'sk-perimeter-bases-writer-0001';
const APPROVER = 'sk-perimeter-bases-approver-01';
const HR = 'sk-perimeter-bases-hr-reader-01';

function authYaml(): string {
  return `auth:
  keys:
    - { id: reader, insecurePlaintext: ${READER}, owner: reader, roles: [user] }
    - { id: writer, insecurePlaintext: ${WRITER}, owner: writer, roles: [writer] }
    - { id: approver, insecurePlaintext: ${APPROVER}, owner: approver, roles: [approver] }
    - { id: hr, insecurePlaintext: ${HR}, owner: hr, roles: [hr] }
  roles:
    admin: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: ['*'], mayApproveMoves: true, admin: write }
    user: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'] }
    hr: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'] }
    writer: { models: ['*'], tiers: ['*'], workloads: ['*'], bases: ['*'], basesWrite: ['*'] }
    approver: { bases: ['*'], mayApproveMoves: true }
`;
}

function basesYaml(dir: string, extra = ''): string {
  return `deployment: { id: dep-a }
bases:
  store: { kind: sqlite, path: ${dir}/bases.db }
${extra}  definitions:
    - { id: handbook, name: Handbook, level: internal, access: { roles: [user, writer, hr] } }
    - { id: hr-cases, name: HR cases, level: regulated, access: { roles: [hr, writer] } }
`;
}

async function pdf(text: string): Promise<string> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage([600, 400]).drawText(text, { x: 40, y: 340, size: 12, font });
  return Buffer.from(await doc.save()).toString('base64');
}

interface ErrorBody {
  error: { code: string; type: string; message: string; param: string | null };
}

describe('HTTP /v1/bases through a real gateway', () => {
  const tmp = tempDir();
  let stack: TestStack;
  const call = async (key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; headers: Headers }> => {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: await res.json(), headers: res.headers };
  };
  before(async () => {
    stack = await startStack({ authYaml: authYaml(), extraYaml: basesYaml(tmp.dir) });
  });
  after(async () => {
    await stack.close();
    tmp.cleanup();
  });

  it('lists only visible Bases; a hidden one is a 404 like a missing one', async () => {
    const reader = await call(READER, 'GET', '/v1/bases');
    assert.equal(reader.status, 200);
    const list = reader.json as { object: string; data: { id: string; deploymentId: string; local: boolean }[] };
    assert.equal(list.object, 'list');
    assert.deepEqual(list.data.map((b) => [b.id, b.deploymentId, b.local]), [['handbook', 'dep-a', true]]);
    assert.deepEqual(((await call(HR, 'GET', '/v1/bases')).json as typeof list).data.map((b) => b.id), ['handbook', 'hr-cases']);
    for (const base of ['hr-cases', 'nope']) {
      const r = await call(READER, 'GET', `/v1/bases/${base}/documents`);
      assert.equal(r.status, 404);
      assert.equal((r.json as ErrorBody).error.code, 'base_not_found');
      assert.equal((r.json as ErrorBody).error.message, `Base "${base}" was not found.`);
    }
    const unauth = await fetch(`${stack.url}/v1/bases`);
    assert.equal(unauth.status, 401);
  });

  it('ingest markdown and PDF, versions, then search, list and fetch', async () => {
    const denied = await call(READER, 'POST', '/v1/bases/handbook/documents', { title: 'T', mediaType: 'text/plain', text: 'x' });
    assert.equal(denied.status, 403);
    assert.equal((denied.json as ErrorBody).error.type, 'permission_error');

    const md = { documentId: 'expenses', title: 'Expenses', mediaType: 'text/markdown', text: '# Expenses\n\nClaim **mileage** at the standard rate within thirty days.', source: 'expenses.md' };
    const created = await call(WRITER, 'POST', '/v1/bases/handbook/documents', md);
    assert.equal(created.status, 201);
    assert.equal((created.json as { status: string; version: number }).status, 'created');
    const again = await call(WRITER, 'POST', '/v1/bases/handbook/documents', md);
    assert.equal(again.status, 200);
    assert.equal((again.json as { status: string }).status, 'unchanged');
    const updated = await call(WRITER, 'POST', '/v1/bases/handbook/documents', { ...md, text: `${md.text}\n\nParking is not refunded.` });
    assert.equal(updated.status, 201);
    assert.equal((updated.json as { version: number }).version, 2);

    const pdfDoc = await call(WRITER, 'POST', '/v1/bases/handbook/documents', { title: 'Fire drill', mediaType: 'application/pdf', contentBase64: await pdf('Assemble at the north car park during a fire drill.') });
    assert.equal(pdfDoc.status, 201, JSON.stringify(pdfDoc.json));
    assert.equal((pdfDoc.json as { documentId: string }).documentId, 'fire-drill');

    const search = await call(READER, 'POST', '/v1/bases/search', { query: 'mileage rate', limit: 5 }, { 'x-perimeter-correlation-id': 'corr-http-1' });
    assert.equal(search.status, 200);
    const res = search.json as { hits: { documentId: string; version: number; snippet: string; deploymentId: string }[]; deployments: { id: string; status: string }[] };
    assert.deepEqual(res.hits.map((h) => [h.documentId, h.version]), [['expenses', 2]]);
    assert.match(res.hits[0]?.snippet ?? '', /mileage/);
    assert.deepEqual(res.deployments, [{ id: 'dep-a', status: 'ok' }]);
    const pdfHit = (await call(READER, 'POST', '/v1/bases/search', { query: 'north car park', bases: ['handbook'] })).json as typeof res;
    assert.equal(pdfHit.hits[0]?.documentId, 'fire-drill');

    const docs = (await call(READER, 'GET', '/v1/bases/handbook/documents')).json as { data: { documentId: string; mediaType: string }[] };
    assert.deepEqual(docs.data.map((d) => [d.documentId, d.mediaType]), [['expenses', 'text/markdown'], ['fire-drill', 'application/pdf']]);
    const full = await call(READER, 'GET', '/v1/bases/handbook/documents/expenses');
    assert.equal(full.status, 200);
    assert.equal((full.json as { text: string }).text, 'Expenses\n\nClaim mileage at the standard rate within thirty days.\n\nParking is not refunded.');
    assert.equal((await call(READER, 'GET', '/v1/bases/handbook/documents/missing')).status, 404);

    const hidden = await call(READER, 'POST', '/v1/bases/search', { query: 'mileage', bases: ['hr-cases'] });
    assert.equal(hidden.status, 404);
    assert.equal((hidden.json as ErrorBody).error.code, 'base_not_found');

    const entries = [];
    for await (const e of stack.gateway.gateway.live.current.audit!.entries({ kind: 'bases' })) entries.push(e);
    const searchEntry = entries.find((e) => e.action === 'bases.search' && e.data.correlationId === 'corr-http-1');
    assert.ok(searchEntry !== undefined, 'the search is audited with the caller’s correlation id');
    assert.equal(searchEntry.actor, 'reader');
    assert.ok(!JSON.stringify(entries).includes('mileage'), 'no query text or content in the audit trail');
  });

  it('regulated values in snippets are masked over HTTP too', async () => {
    await call(WRITER, 'POST', '/v1/bases/hr-cases/documents', { documentId: 'payroll', title: 'Payroll', mediaType: 'text/plain', text: 'Salary account IBAN DE89 3704 0044 0532 0130 00 updated after the transfer request.' });
    const res = (await call(HR, 'POST', '/v1/bases/search', { query: 'salary', bases: ['hr-cases'] })).json as { hits: { snippet: string; redacted: Record<string, number> }[] };
    assert.equal(res.hits[0]?.snippet, 'Salary account IBAN [IBAN_CODE] updated after the transfer request.');
    assert.deepEqual(res.hits[0]?.redacted, { IBAN_CODE: 1 });
    const tooHigh = await call(WRITER, 'POST', '/v1/bases/handbook/documents', { title: 'Leak', mediaType: 'text/plain', text: 'IBAN DE89 3704 0044 0532 0130 00' });
    assert.equal(tooHigh.status, 422);
    assert.equal((tooHigh.json as ErrorBody).error.code, 'document_too_sensitive');
  });

  it('moves: request, a non-approver is refused, reject; approving without a federation transport is 501', async () => {
    const requested = await call(WRITER, 'POST', '/v1/bases/moves', { baseId: 'hr-cases', documentId: 'payroll', toDeployment: 'dep-b' });
    assert.equal(requested.status, 201);
    const move = requested.json as { id: string; state: string };
    assert.equal(move.state, 'requested');
    assert.equal((await call(READER, 'POST', `/v1/bases/moves/${move.id}/approve`)).status, 403);
    assert.equal((await call(WRITER, 'POST', `/v1/bases/moves/${move.id}/approve`)).status, 403);
    const approve = await call(APPROVER, 'POST', `/v1/bases/moves/${move.id}/approve`);
    assert.equal(approve.status, 501);
    assert.equal((approve.json as ErrorBody).error.code, 'not_implemented');
    const rejected = await call(APPROVER, 'POST', `/v1/bases/moves/${move.id}/reject`);
    assert.equal(rejected.status, 200);
    assert.equal((rejected.json as { state: string }).state, 'rejected');
    assert.equal((await call(APPROVER, 'POST', `/v1/bases/moves/${move.id}/reject`)).status, 409);
    const listed = (await call(APPROVER, 'GET', '/v1/bases/moves')).json as { data: { id: string; state: string }[] };
    assert.deepEqual(listed.data.map((m) => [m.id, m.state]), [[move.id, 'rejected']]);
    assert.deepEqual(((await call(READER, 'GET', '/v1/bases/moves')).json as typeof listed).data, []);
    assert.equal((await call(APPROVER, 'POST', '/v1/bases/moves/nope/approve')).status, 404);
  });

  it('bad bodies are 400 invalid_request naming the field', async () => {
    const r = await call(WRITER, 'POST', '/v1/bases/search', { query: '', limit: 500 });
    assert.equal(r.status, 400);
    assert.equal((r.json as ErrorBody).error.code, 'invalid_request');
    assert.equal((r.json as ErrorBody).error.param, 'query');
    const both = await call(WRITER, 'POST', '/v1/bases/handbook/documents', { title: 'x', mediaType: 'text/plain', text: 'a', contentBase64: 'YQ==' });
    assert.equal(both.status, 400);
    const notB64 = await call(WRITER, 'POST', '/v1/bases/handbook/documents', { title: 'x', mediaType: 'application/pdf', contentBase64: '***' });
    assert.equal(notB64.status, 400);
    assert.equal((notB64.json as ErrorBody).error.param, 'contentBase64');
  });
});

describe('HTTP /v1/bases with embeddings through the gateway', () => {
  const tmp = tempDir();
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ authYaml: authYaml(), extraYaml: basesYaml(tmp.dir, '  embeddings: { model: bge-m3 }\n') });
  });
  after(async () => {
    await stack.close();
    tmp.cleanup();
  });

  it('chunks are embedded by an eligible backend under the Base level, and search fuses vector and BM25 ranks', async () => {
    const text = 'Vendor onboarding requires a signed data processing agreement.';
    const res = await fetch(`${stack.url}/v1/bases/hr-cases/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ documentId: 'vendors', title: 'Vendors', mediaType: 'text/plain', text }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const onPrem = (await (await fetch(`${stack.sims.onPrem.url}/_sim/received`)).json()) as { path: string; body: { input: string[] } }[];
    const embeds = onPrem.filter((r) => r.path.endsWith('/embeddings'));
    assert.equal(embeds.length, 1, 'one embedding call for the one chunk, on-prem');
    assert.deepEqual(embeds[0]?.body.input, [text]);
    for (const sim of [stack.sims.privateCloud, stack.sims.publicApi]) {
      const got = (await (await fetch(`${sim.url}/_sim/received`)).json()) as unknown[];
      assert.equal(got.length, 0, 'no other tier saw the regulated Base');
    }
    // The simulator's vectors are a hash of the text: only the identical text is near, so this hit comes from the vector side.
    const search = await fetch(`${stack.url}/v1/bases/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${HR}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: text, bases: ['hr-cases'] }),
    });
    const body = (await search.json()) as { hits: { documentId: string; score: number }[] };
    assert.equal(body.hits[0]?.documentId, 'vendors');
    assert.ok(Math.abs((body.hits[0]?.score ?? 0) - 2 / 61) < 1e-5, 'first in both rankings: two 1/(60+1) terms of the fusion');
  });
});
