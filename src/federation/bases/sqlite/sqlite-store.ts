import type Database from 'better-sqlite3';
import { openSqlite } from '../../../record/sqlite/sqlite-store.js';
import type { MoveInfo, MoveState } from '../api.js';
import {
  CHUNK_SELECT,
  chunkFromRow,
  decodeVector,
  DOCUMENT_COLUMNS,
  documentFromRow,
  encodeVector,
  moveFromRow,
  queryTerms,
  type TermMatch,
  type BaseStore,
  type ChunkHit,
  type ChunkInput,
  type ChunkVector,
  type DocumentInput,
  type MoveUpdate,
  type NewMove,
  type PutResult,
  type StoredDocument,
} from '../store.js';

type Db = Database.Database;

const DOC_JOIN = 'JOIN bases_documents d ON d.base_id = c.base_id AND d.document_id = c.document_id AND d.version = c.version';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE bases_documents (
     base_id TEXT NOT NULL,
     document_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     title TEXT NOT NULL,
     media_type TEXT NOT NULL,
     source TEXT,
     ingested_at TEXT NOT NULL,
     ingested_by TEXT NOT NULL,
     chars INTEGER NOT NULL,
     chunks INTEGER NOT NULL,
     level TEXT NOT NULL,
     current INTEGER NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (base_id, document_id, version)
   ) STRICT`,
  `CREATE INDEX bases_documents_current ON bases_documents (base_id, current, document_id)`,
  `CREATE TABLE bases_chunks (
     id INTEGER PRIMARY KEY,
     base_id TEXT NOT NULL,
     document_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     chunk_index INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     start_offset INTEGER NOT NULL,
     end_offset INTEGER NOT NULL,
     heading TEXT,
     text TEXT NOT NULL,
     vector BLOB,
     UNIQUE (base_id, document_id, chunk_index)
   ) STRICT`,
  // External-content FTS5 index over the chunks, kept in step by triggers; porter stems English words.
  `CREATE VIRTUAL TABLE bases_chunks_fts USING fts5(text, content='bases_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')`,
  `CREATE TRIGGER bases_chunks_ai AFTER INSERT ON bases_chunks BEGIN
     INSERT INTO bases_chunks_fts (rowid, text) VALUES (new.id, new.text);
   END`,
  `CREATE TRIGGER bases_chunks_ad AFTER DELETE ON bases_chunks BEGIN
     INSERT INTO bases_chunks_fts (bases_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
   END`,
  `CREATE TABLE bases_moves (
     id TEXT PRIMARY KEY,
     base_id TEXT NOT NULL,
     document_id TEXT NOT NULL,
     from_deployment TEXT NOT NULL,
     to_deployment TEXT NOT NULL,
     to_base TEXT NOT NULL,
     state TEXT NOT NULL,
     requested_by TEXT NOT NULL,
     approved_by TEXT,
     requested_at TEXT NOT NULL,
     decided_at TEXT,
     completed_at TEXT,
     failure TEXT,
     seq INTEGER NOT NULL
   ) STRICT`,
];

/** An FTS5 MATCH expression from plain words and phrases: every term quoted, so none is an operator. */
export function fts5Query(query: string, match: TermMatch = 'all'): string | undefined {
  const { words, phrases } = queryTerms(query);
  const terms = [...phrases, ...words].map((t) => `"${t.replace(/"/g, '""')}"`);
  return terms.length === 0 ? undefined : terms.join(match === 'all' ? ' AND ' : ' OR ');
}

export class SqliteBaseStore implements BaseStore {
  readonly kind = 'sqlite' as const;
  readonly db: Db;

  constructor(path: string) {
    this.db = openSqlite(path);
  }

  async migrate(): Promise<void> {
    const db = this.db;
    db.exec(`CREATE TABLE IF NOT EXISTS perimeter_schema_migrations (
      component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))`);
    db.transaction(() => {
      const row = db.prepare(`SELECT MAX(version) AS v FROM perimeter_schema_migrations WHERE component = 'bases'`).get() as { v: number | null };
      for (let v = (row.v ?? 0) + 1; v <= MIGRATIONS.length; v++) {
        db.exec(MIGRATIONS[v - 1] as string);
        db.prepare(`INSERT INTO perimeter_schema_migrations (component, version, applied_at) VALUES ('bases', ?, ?)`).run(v, new Date().toISOString());
      }
    }).immediate();
  }

  async putDocument(doc: DocumentInput, chunks: readonly ChunkInput[]): Promise<PutResult> {
    const db = this.db;
    // IMMEDIATE: two ingests of the same document cannot both pick version n+1.
    return db
      .transaction((): PutResult => {
        const current = db
          .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM bases_documents WHERE base_id = ? AND document_id = ? AND current = 1`)
          .get(doc.baseId, doc.documentId) as Record<string, unknown> | undefined;
        if (current !== undefined && current.sha256 === doc.sha256) return { document: documentFromRow(current), status: 'unchanged' };
        const version = current === undefined ? 1 : Number(current.version) + 1;
        db.prepare('UPDATE bases_documents SET current = 0 WHERE base_id = ? AND document_id = ?').run(doc.baseId, doc.documentId);
        db.prepare('DELETE FROM bases_chunks WHERE base_id = ? AND document_id = ?').run(doc.baseId, doc.documentId);
        db.prepare(
          `INSERT INTO bases_documents (${DOCUMENT_COLUMNS}, current, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
        ).run(doc.baseId, doc.documentId, version, doc.sha256, doc.title, doc.mediaType, doc.source ?? null, doc.ingestedAt, doc.ingestedBy, doc.text.length, chunks.length, doc.level, doc.text);
        const insert = db.prepare(
          `INSERT INTO bases_chunks (base_id, document_id, version, chunk_index, sha256, start_offset, end_offset, heading, text, vector)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const c of chunks) {
          insert.run(doc.baseId, doc.documentId, version, c.index, doc.sha256, c.start, c.end, c.heading ?? null, c.text, c.vector === undefined ? null : encodeVector(c.vector));
        }
        const stored: StoredDocument = {
          baseId: doc.baseId,
          documentId: doc.documentId,
          version,
          sha256: doc.sha256,
          title: doc.title,
          mediaType: doc.mediaType,
          source: doc.source,
          ingestedAt: doc.ingestedAt,
          ingestedBy: doc.ingestedBy,
          chars: doc.text.length,
          chunks: chunks.length,
          level: doc.level,
        };
        return { document: stored, status: current === undefined ? 'created' : 'updated' };
      })
      .immediate();
  }

  async getDocument(baseId: string, documentId: string): Promise<(StoredDocument & { text: string }) | undefined> {
    const row = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS}, text FROM bases_documents WHERE base_id = ? AND document_id = ? AND current = 1`)
      .get(baseId, documentId) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : { ...documentFromRow(row), text: String(row.text) };
  }

  async listDocuments(baseId: string): Promise<StoredDocument[]> {
    const rows = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM bases_documents WHERE base_id = ? AND current = 1 ORDER BY document_id`)
      .all(baseId) as Record<string, unknown>[];
    return rows.map(documentFromRow);
  }

  async versions(baseId: string, documentId: string): Promise<StoredDocument[]> {
    const rows = this.db
      .prepare(`SELECT ${DOCUMENT_COLUMNS} FROM bases_documents WHERE base_id = ? AND document_id = ? ORDER BY version`)
      .all(baseId, documentId) as Record<string, unknown>[];
    return rows.map(documentFromRow);
  }

  async countDocuments(baseIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(baseIds.map((b) => [b, 0]));
    if (baseIds.length === 0) return out;
    const rows = this.db
      .prepare(`SELECT base_id, COUNT(*) AS n FROM bases_documents WHERE current = 1 AND base_id IN (${baseIds.map(() => '?').join(', ')}) GROUP BY base_id`)
      .all(...baseIds) as { base_id: string; n: number }[];
    for (const r of rows) out.set(r.base_id, r.n);
    return out;
  }

  async deleteDocument(baseId: string, documentId: string): Promise<boolean> {
    const db = this.db;
    return db
      .transaction(() => {
        db.prepare('DELETE FROM bases_chunks WHERE base_id = ? AND document_id = ?').run(baseId, documentId);
        return db.prepare('DELETE FROM bases_documents WHERE base_id = ? AND document_id = ?').run(baseId, documentId).changes > 0;
      })
      .immediate();
  }

  async searchText(baseIds: readonly string[], query: string, limit: number, terms: TermMatch = 'all'): Promise<ChunkHit[]> {
    const match = fts5Query(query, terms);
    if (match === undefined || baseIds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT ${CHUNK_SELECT}, bm25(bases_chunks_fts) AS rank
         FROM bases_chunks_fts JOIN bases_chunks c ON c.id = bases_chunks_fts.rowid ${DOC_JOIN}
         WHERE bases_chunks_fts MATCH ? AND c.base_id IN (${baseIds.map(() => '?').join(', ')})
         ORDER BY rank, c.base_id, c.document_id, c.chunk_index LIMIT ?`,
      )
      .all(match, ...baseIds, limit) as Record<string, unknown>[];
    // bm25() is lower-is-better; flip it so every store's score is higher-is-better.
    return rows.map((r) => ({ ...chunkFromRow(r), score: -Number(r.rank) }));
  }

  async vectors(baseIds: readonly string[]): Promise<ChunkVector[]> {
    if (baseIds.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT ${CHUNK_SELECT}, c.vector FROM bases_chunks c ${DOC_JOIN} WHERE c.vector IS NOT NULL AND c.base_id IN (${baseIds.map(() => '?').join(', ')})`)
      .all(...baseIds) as Record<string, unknown>[];
    return rows.map((r) => ({ ...chunkFromRow(r), vector: decodeVector(r.vector as Buffer) }));
  }

  async createMove(m: NewMove): Promise<MoveInfo> {
    this.db
      .prepare(
        `INSERT INTO bases_moves (id, base_id, document_id, from_deployment, to_deployment, to_base, state, requested_by, requested_at, seq)
         VALUES (?, ?, ?, ?, ?, ?, 'requested', ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM bases_moves))`,
      )
      .run(m.id, m.baseId, m.documentId, m.fromDeployment, m.toDeployment, m.toBase, m.requestedBy, m.requestedAt);
    const created = await this.getMove(m.id);
    if (created === undefined) throw new Error('move not stored');
    return created;
  }

  async getMove(id: string): Promise<MoveInfo | undefined> {
    const row = this.db.prepare('SELECT * FROM bases_moves WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : moveFromRow(row);
  }

  async updateMove(id: string, from: MoveState, u: MoveUpdate): Promise<MoveInfo | undefined> {
    const changes = this.db
      .prepare(
        `UPDATE bases_moves SET state = ?, approved_by = COALESCE(?, approved_by), decided_at = COALESCE(?, decided_at),
           completed_at = COALESCE(?, completed_at), failure = COALESCE(?, failure)
         WHERE id = ? AND state = ?`,
      )
      .run(u.state, u.approvedBy ?? null, u.decidedAt ?? null, u.completedAt ?? null, u.failure ?? null, id, from).changes;
    return changes === 0 ? undefined : this.getMove(id);
  }

  async listMoves(limit = 500): Promise<MoveInfo[]> {
    const rows = this.db.prepare('SELECT * FROM bases_moves ORDER BY seq DESC LIMIT ?').all(Math.max(1, Math.min(limit, 5000))) as Record<string, unknown>[];
    return rows.map(moveFromRow);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
