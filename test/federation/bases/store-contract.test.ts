import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresBaseStore } from '../../../src/federation/bases/postgres/postgres-store.js';
import { SqliteBaseStore } from '../../../src/federation/bases/sqlite/sqlite-store.js';
import type { BaseStore, ChunkInput, DocumentInput } from '../../../src/federation/bases/store.js';
import { PG_URL, tempDir } from './support.js';

interface Harness {
  readonly name: string;
  open(): Promise<BaseStore>;
  cleanup(): Promise<void>;
}

function sqliteHarness(): Harness {
  const tmp = tempDir();
  let n = 0;
  return {
    name: 'sqlite',
    open: async () => new SqliteBaseStore(`${tmp.dir}/bases-${n++}.db`),
    cleanup: async () => tmp.cleanup(),
  };
}

function postgresHarness(): Harness {
  const schemas: string[] = [];
  return {
    name: 'postgres',
    open: async () => {
      const schema = `bases_contract_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      schemas.push(schema);
      return new PostgresBaseStore({ url: PG_URL, schema, poolSize: 2 });
    },
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

function doc(overrides: Partial<DocumentInput> = {}): DocumentInput {
  return {
    baseId: 'kb',
    documentId: 'doc-1',
    sha256: 'a'.repeat(64),
    title: 'Travel policy',
    mediaType: 'text/markdown',
    source: 'travel.md',
    ingestedAt: '2025-03-01T12:00:00.000Z',
    ingestedBy: 'alice',
    level: 'internal',
    text: 'unused',
    ...overrides,
  };
}

function chunks(...texts: string[]): ChunkInput[] {
  let at = 0;
  return texts.map((text, index) => {
    const c = { index, text, start: at, end: at + text.length, heading: index === 0 ? 'Intro' : undefined };
    at += text.length + 1;
    return c;
  });
}

for (const harness of [sqliteHarness(), postgresHarness()]) {
  describe(`BaseStore contract: ${harness.name}`, () => {
    const opened: BaseStore[] = [];
    const open = async (): Promise<BaseStore> => {
      const s = await harness.open();
      opened.push(s);
      await s.migrate();
      return s;
    };
    after(async () => {
      await Promise.all(opened.map((s) => s.close()));
      await harness.cleanup();
    });

    it('migrate runs twice without harm', async () => {
      const s = await open();
      await s.migrate();
      assert.deepEqual(await s.listDocuments('kb'), []);
    });

    it('versions: same bytes are a no-op, new bytes make version n+1 and replace the searchable chunks', async () => {
      const s = await open();
      const text1 = 'Economy class for flights under six hours. Receipts within thirty days.';
      const v1 = await s.putDocument(doc({ text: text1 }), chunks('Economy class for flights under six hours.', 'Receipts within thirty days.'));
      assert.equal(v1.status, 'created');
      assert.equal(v1.document.version, 1);
      assert.equal(v1.document.chunks, 2);
      const again = await s.putDocument(doc({ text: text1, ingestedBy: 'bob' }), chunks('different chunks ignored'));
      assert.equal(again.status, 'unchanged');
      assert.equal(again.document.version, 1);
      assert.equal(again.document.ingestedBy, 'alice', 'the existing version is returned unchanged');
      const text2 = 'Business class for flights over eight hours.';
      const v2 = await s.putDocument(doc({ sha256: 'b'.repeat(64), text: text2, ingestedBy: 'bob' }), chunks(text2));
      assert.equal(v2.status, 'updated');
      assert.equal(v2.document.version, 2);

      assert.deepEqual(await s.searchText(['kb'], 'economy', 10), [], 'the old version is no longer searchable');
      const hits = await s.searchText(['kb'], 'business flights', 10);
      assert.equal(hits.length, 1);
      assert.equal(hits[0]?.version, 2);
      assert.equal(hits[0]?.sha256, 'b'.repeat(64));
      assert.equal(hits[0]?.title, 'Travel policy');

      const current = await s.getDocument('kb', 'doc-1');
      assert.equal(current?.text, text2);
      assert.equal(current?.version, 2);
      assert.equal(current?.ingestedBy, 'bob');
      assert.equal(current?.source, 'travel.md');
      assert.equal(current?.mediaType, 'text/markdown');
      assert.equal(current?.chars, text2.length);
      const versions = await s.versions('kb', 'doc-1');
      assert.deepEqual(versions.map((v) => [v.version, v.sha256.slice(0, 1)]), [[1, 'a'], [2, 'b']]);
      assert.deepEqual((await s.listDocuments('kb')).map((d) => d.version), [2], 'lists current versions only');
    });

    it('search: AND of words, stemming, phrases, Base filter, best first, operators are plain words', async () => {
      const s = await open();
      await s.putDocument(doc({ documentId: 'a', sha256: '1'.repeat(64), title: 'A' }), chunks('The expense policies cover hotels and meals.'));
      await s.putDocument(doc({ documentId: 'b', sha256: '2'.repeat(64), title: 'B' }), chunks('Hotel hotels hotel: the hotel policy, hotel rates and hotel loyalty.'));
      await s.putDocument(doc({ baseId: 'other', documentId: 'c', sha256: '3'.repeat(64), title: 'C' }), chunks('Hotels in the other base.'));

      const policy = await s.searchText(['kb'], 'policy', 10);
      assert.deepEqual(policy.map((h) => h.documentId).sort(), ['a', 'b'], '"policy" finds "policies" (stemming)');
      const both = await s.searchText(['kb'], 'hotels meals', 10);
      assert.deepEqual(both.map((h) => h.documentId), ['a'], 'every word must match');
      const ranked = await s.searchText(['kb'], 'hotel', 10);
      assert.deepEqual(ranked.map((h) => h.documentId), ['b', 'a'], 'more matches rank higher');
      assert.ok((ranked[0]?.score ?? 0) > (ranked[1]?.score ?? 0), 'scores are higher-is-better');
      assert.deepEqual((await s.searchText(['kb'], '"hotel rates"', 10)).map((h) => h.documentId), ['b']);
      assert.deepEqual(await s.searchText(['kb'], '"rates hotel"', 10), [], 'a phrase keeps its word order');
      // A question retrieves on any of its words, best match first; a search needs all of them.
      assert.deepEqual(await s.searchText(['kb'], 'hotels zeppelin', 10), []);
      const anyWord = await s.searchText(['kb'], 'hotels zeppelin', 10, 'any');
      assert.ok(anyWord.length > 0 && anyWord.every((h) => h.baseId === 'kb'));
      assert.deepEqual((await s.searchText(['kb', 'other'], 'hotels', 10)).map((h) => h.baseId).sort(), ['kb', 'kb', 'other']);
      assert.deepEqual(await s.searchText([], 'hotels', 10), []);
      assert.deepEqual(await s.searchText(['kb'], '  ***  ', 10), []);
      // FTS syntax in user text must not be interpreted (nor throw).
      assert.deepEqual(await s.searchText(['kb'], 'hotel NOT meals OR -rates AND NEAR(x', 10), []);
      assert.equal((await s.searchText(['kb'], 'hotel', 1)).length, 1, 'limit applies');
    });

    it('counts, lists and deletes documents', async () => {
      const s = await open();
      await s.putDocument(doc({ documentId: 'x' }), chunks('alpha'));
      await s.putDocument(doc({ documentId: 'y' }), chunks('beta'));
      await s.putDocument(doc({ documentId: 'y', sha256: 'f'.repeat(64) }), chunks('beta two'));
      await s.putDocument(doc({ baseId: 'kb2', documentId: 'z' }), chunks('gamma'));
      const counts = await s.countDocuments(['kb', 'kb2', 'empty']);
      assert.deepEqual([...counts.entries()].sort(), [['empty', 0], ['kb', 2], ['kb2', 1]]);
      assert.deepEqual((await s.listDocuments('kb')).map((d) => d.documentId), ['x', 'y']);
      assert.equal(await s.deleteDocument('kb', 'y'), true);
      assert.equal(await s.deleteDocument('kb', 'y'), false);
      assert.equal(await s.getDocument('kb', 'y'), undefined);
      assert.deepEqual(await s.versions('kb', 'y'), [], 'every version is gone');
      assert.deepEqual(await s.searchText(['kb'], 'beta', 10), []);
      assert.equal((await s.countDocuments(['kb'])).get('kb'), 1);
    });

    it('stores float32 vectors per chunk and returns them for current chunks only', async () => {
      const s = await open();
      const v = new Float32Array([0.25, -1.5, 3]);
      await s.putDocument(doc(), [{ ...chunks('with vector')[0]!, vector: v }, { index: 1, text: 'no vector', start: 12, end: 21, heading: undefined }]);
      const got = await s.vectors(['kb']);
      assert.equal(got.length, 1);
      assert.deepEqual([...(got[0]?.vector ?? [])], [0.25, -1.5, 3]);
      assert.equal(got[0]?.text, 'with vector');
      await s.putDocument(doc({ sha256: 'c'.repeat(64) }), chunks('replaced'));
      assert.deepEqual(await s.vectors(['kb']), []);
    });

    it('moves: create, compare-and-set transitions, newest first', async () => {
      const s = await open();
      const base = { baseId: 'kb', documentId: 'doc-1', fromDeployment: 'dep-a', toDeployment: 'dep-b', toBase: 'kb', requestedBy: 'alice' };
      const m1 = await s.createMove({ id: 'm1', ...base, requestedAt: '2025-03-01T12:00:00.000Z' });
      assert.equal(m1.state, 'requested');
      assert.equal(m1.approvedBy, undefined);
      await s.createMove({ id: 'm2', ...base, requestedAt: '2025-03-01T12:01:00.000Z' });
      const approved = await s.updateMove('m1', 'requested', { state: 'approved', approvedBy: 'carol', decidedAt: '2025-03-01T12:05:00.000Z' });
      assert.equal(approved?.state, 'approved');
      assert.equal(approved?.approvedBy, 'carol');
      assert.equal(await s.updateMove('m1', 'requested', { state: 'rejected', approvedBy: 'dave' }), undefined, 'a second decision loses');
      const done = await s.updateMove('m1', 'approved', { state: 'completed', completedAt: '2025-03-01T12:06:00.000Z' });
      assert.equal(done?.state, 'completed');
      assert.equal(done?.approvedBy, 'carol', 'earlier fields are kept');
      assert.equal(done?.decidedAt, '2025-03-01T12:05:00.000Z');
      assert.equal(await s.getMove('nope'), undefined);
      assert.deepEqual((await s.listMoves()).map((m) => m.id), ['m2', 'm1']);
    });
  });
}
