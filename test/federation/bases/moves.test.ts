import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatewayError } from '../../../src/domain/errors.js';
import type { MoveTransport } from '../../../src/federation/bases/api.js';
import { caller, localBases, principal, tempDir, type Harness } from './support.js';

const requester = principal('wanda', { groups: ['hr', 'staff'], roles: ['writer'] });
const approver = principal('carol', { roles: ['approver'] });
const reader = principal('hana', { groups: ['hr', 'staff'] });
const admin = principal('ada', { groups: ['hr'], roles: ['admin'] });

function code(err: unknown): string | undefined {
  return err instanceof GatewayError ? err.code : undefined;
}

const CASE = 'Grievance about rota fairness in the warehouse, handled by the works council.';

describe('Bases: moving a document between deployments', () => {
  const tmp = tempDir();
  let a: Harness;
  let b: Harness;
  const sent: string[] = [];
  before(async () => {
    b = await localBases({ dir: tmp.dir, name: 'b', deploymentId: 'dep-b' });
    // The in-process transport is the destination's own receiveMove on its own SQLite file.
    const transport: MoveTransport = {
      send: async (to, payload) => {
        sent.push(to);
        if (to !== 'dep-b') throw new Error(`no route to ${to}`);
        await b.bases.receiveMove('dep-a', payload);
      },
    };
    a = await localBases({ dir: tmp.dir, name: 'a', deploymentId: 'dep-a', transport });
  });
  after(async () => {
    await a.close();
    await b.close();
    tmp.cleanup();
  });

  it('request → approval by an approver (not the requester) → moved; the source copy is deleted; each step audited in order', async () => {
    const ingested = await a.bases.ingest(caller(requester), { baseId: 'hr-cases', documentId: 'case-7', title: 'Case 7', mediaType: 'text/plain', text: CASE, source: 'case-7.txt' });
    const move = await a.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'case-7', toDeployment: 'dep-b' });
    assert.equal(move.state, 'requested');
    assert.equal(move.toBase, 'hr-cases');
    assert.equal(move.requestedBy, 'wanda');

    await assert.rejects(a.bases.approveMove(caller(requester), move.id, true), (e) => code(e) === 'forbidden', 'a writer without mayApproveMoves');
    await assert.rejects(a.bases.approveMove(caller(reader), move.id, true), (e) => code(e) === 'forbidden', 'a plain reader');
    assert.equal((await a.bases.document(caller(reader), 'hr-cases', 'case-7')).text, CASE, 'nothing moved yet');
    assert.deepEqual(sent, []);

    const done = await a.bases.approveMove(caller(approver), move.id, true);
    assert.equal(done.state, 'completed');
    assert.equal(done.approvedBy, 'carol');
    assert.ok(done.completedAt !== undefined);
    assert.deepEqual(sent, ['dep-b']);

    await assert.rejects(a.bases.document(caller(reader), 'hr-cases', 'case-7'), (e) => code(e) === 'document_not_found');
    assert.deepEqual((await a.bases.search(caller(reader), { query: 'grievance', limit: 5, purpose: 'search' })).hits, []);
    const there = await b.bases.document(caller(reader), 'hr-cases', 'case-7');
    assert.equal(there.text, CASE);
    assert.equal(there.sha256, ingested.sha256, 'provenance travels with the document');
    assert.equal(there.ingestedBy, 'wanda');
    assert.equal(there.source, 'case-7.txt');
    assert.equal(there.deploymentId, 'dep-b');
    assert.equal((await b.bases.search(caller(reader), { query: 'grievance', limit: 5, purpose: 'search' })).hits[0]?.documentId, 'case-7');

    await assert.rejects(a.bases.approveMove(caller(approver), move.id, true), (e) => code(e) === 'move_conflict');

    const steps = (await a.entries()).filter((e) => e.subject === move.id).map((e) => `${e.action}:${e.outcome}:${e.actor}`);
    assert.deepEqual(steps, ['bases.move.request:success:wanda', 'bases.move.approve:success:carol', 'bases.move.complete:success:carol']);
    const received = (await b.entries()).filter((e) => e.subject === move.id);
    assert.deepEqual(received.map((e) => `${e.action}:${e.outcome}:${e.actor}`), ['bases.move.receive:success:peer:dep-a']);
    assert.equal(received[0]?.data.approvedBy, 'carol');
    assert.ok(!JSON.stringify([...(await a.entries()), ...(await b.entries())]).includes('rota fairness'), 'no content in either audit trail');
    assert.equal((await a.audit.verify()).ok, true);
  });

  it('reject: the document stays, nothing is sent', async () => {
    await a.bases.ingest(caller(requester), { baseId: 'hr-cases', documentId: 'case-8', title: 'Case 8', mediaType: 'text/plain', text: 'Case eight text.' });
    const move = await a.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'case-8', toDeployment: 'dep-b' });
    const before = sent.length;
    const rejected = await a.bases.approveMove(caller(approver), move.id, false);
    assert.equal(rejected.state, 'rejected');
    assert.equal(rejected.approvedBy, 'carol');
    assert.equal(sent.length, before);
    assert.equal((await a.bases.document(caller(reader), 'hr-cases', 'case-8')).version, 1);
    await assert.rejects(a.bases.approveMove(caller(approver), move.id, true), (e) => code(e) === 'move_conflict');
    const steps = (await a.entries()).filter((e) => e.subject === move.id).map((e) => e.action);
    assert.deepEqual(steps, ['bases.move.request', 'bases.move.reject']);
  });

  it('nobody approves their own request, admins included', async () => {
    const move = await a.bases.requestMove(caller(admin), { baseId: 'hr-cases', documentId: 'case-8', toDeployment: 'dep-b' });
    await assert.rejects(a.bases.approveMove(caller(admin), move.id, true), (e) => code(e) === 'forbidden');
    assert.equal((await a.bases.moves(caller(approver))).find((m) => m.id === move.id)?.state, 'requested');
    const refused = (await a.entries()).filter((e) => e.subject === move.id && e.outcome === 'failure');
    assert.equal(refused[0]?.data.reason, 'self_approval');
  });

  it('a failed send keeps the document and marks the move failed', async () => {
    const move = await a.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'case-8', toDeployment: 'dep-x' });
    const failed = await a.bases.approveMove(caller(approver), move.id, true);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.failure, 'transport_failed');
    assert.equal((await a.bases.document(caller(reader), 'hr-cases', 'case-8')).version, 1);
    const steps = (await a.entries()).filter((e) => e.subject === move.id).map((e) => `${e.action}:${e.outcome}`);
    assert.deepEqual(steps, ['bases.move.request:success', 'bases.move.approve:success', 'bases.move.fail:failure']);
  });

  it('the destination refuses a Base below the source level: no downgrade, the document stays home', async () => {
    const move = await a.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'case-8', toDeployment: 'dep-b', toBase: 'handbook' });
    const failed = await a.bases.approveMove(caller(approver), move.id, true);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.failure, 'document_too_sensitive');
    assert.equal((await a.bases.document(caller(reader), 'hr-cases', 'case-8')).version, 1);
    await assert.rejects(b.bases.document(caller(reader), 'handbook', 'case-8'), (e) => code(e) === 'document_not_found');
    const receive = (await b.entries()).filter((e) => e.subject === move.id);
    assert.deepEqual(receive.map((e) => [e.action, e.outcome, e.data.reason]), [['bases.move.receive', 'failure', 'level_below_source']]);
  });

  it('requests need write access to a visible Base and an existing document; lists are per role', async () => {
    await assert.rejects(a.bases.requestMove(caller(reader), { baseId: 'hr-cases', documentId: 'case-8', toDeployment: 'dep-b' }), (e) => code(e) === 'forbidden');
    await assert.rejects(a.bases.requestMove(caller(requester), { baseId: 'locked', documentId: 'x', toDeployment: 'dep-b' }), (e) => code(e) === 'base_not_found');
    await assert.rejects(a.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'nope', toDeployment: 'dep-b' }), (e) => code(e) === 'document_not_found');
    await assert.rejects(a.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'case-8', toDeployment: 'dep-a' }), (e) => code(e) === 'invalid_request');
    await assert.rejects(a.bases.approveMove(caller(approver), 'no-such-move', true), (e) => code(e) === 'move_not_found');
    const mine = await a.bases.moves(caller(requester));
    assert.ok(mine.length >= 4 && mine.every((m) => m.requestedBy === 'wanda'));
    const all = await a.bases.moves(caller(approver));
    assert.ok(all.some((m) => m.requestedBy === 'ada'));
    assert.deepEqual(await a.bases.moves(caller(reader)), []);
  });

  it('without a transport, moves can be requested but approving one is refused before anything changes', async () => {
    const tmp2 = tempDir();
    const lone = await localBases({ dir: tmp2.dir, name: 'lone' });
    try {
      await lone.bases.ingest(caller(requester), { baseId: 'hr-cases', documentId: 'c', title: 'C', mediaType: 'text/plain', text: 'Some text.' });
      const move = await lone.bases.requestMove(caller(requester), { baseId: 'hr-cases', documentId: 'c', toDeployment: 'dep-b' });
      await assert.rejects(lone.bases.approveMove(caller(approver), move.id, true), (e) => code(e) === 'not_implemented');
      assert.equal((await lone.bases.moves(caller(approver)))[0]?.state, 'requested');
    } finally {
      await lone.close();
      tmp2.cleanup();
    }
  });
});
