import pg from 'pg';
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

export interface PostgresBaseStoreOptions {
  /** Connection string; resolved from a secret ref by the caller when it holds a password. */
  readonly url: string;
  /** Tables live here; created if missing. */
  readonly schema?: string;
  readonly poolSize?: number;
}

function docJoin(s: string): string {
  return `JOIN ${s}.bases_documents d ON d.base_id = c.base_id AND d.document_id = c.document_id AND d.version = c.version`;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** The text search configuration; `english` stems like SQLite's porter tokenizer. */
const TS_CONFIG = 'english';

function migrations(s: string): readonly string[] {
  return [
    `CREATE TABLE ${s}.bases_documents (
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
       current BOOLEAN NOT NULL,
       text TEXT NOT NULL,
       PRIMARY KEY (base_id, document_id, version)
     )`,
    `CREATE INDEX bases_documents_current ON ${s}.bases_documents (base_id, document_id) WHERE current`,
    `CREATE TABLE ${s}.bases_chunks (
       id BIGSERIAL PRIMARY KEY,
       base_id TEXT NOT NULL,
       document_id TEXT NOT NULL,
       version INTEGER NOT NULL,
       chunk_index INTEGER NOT NULL,
       sha256 TEXT NOT NULL,
       start_offset INTEGER NOT NULL,
       end_offset INTEGER NOT NULL,
       heading TEXT,
       text TEXT NOT NULL,
       vector BYTEA,
       tsv tsvector GENERATED ALWAYS AS (to_tsvector('${TS_CONFIG}', text)) STORED,
       UNIQUE (base_id, document_id, chunk_index)
     )`,
    `CREATE INDEX bases_chunks_tsv ON ${s}.bases_chunks USING GIN (tsv)`,
    `CREATE TABLE ${s}.bases_moves (
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
       seq BIGSERIAL NOT NULL
     )`,
  ];
}

/**
 * The words and phrases of a query as websearch_to_tsquery input: quoted phrases
 * and bare words only, so `or`, `-` and the like in user text are not operators and
 * both stores see the same AND of terms.
 */
export function websearchQuery(query: string, match: TermMatch = 'all'): string | undefined {
  const { words, phrases } = queryTerms(query);
  const terms = [...phrases.map((p) => `"${p}"`), ...words.map((w) => (w.toLowerCase() === 'or' ? `"${w}"` : w))];
  return terms.length === 0 ? undefined : terms.join(match === 'all' ? ' ' : ' or ');
}

export class PostgresBaseStore implements BaseStore {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  readonly schema: string;

  constructor(options: PostgresBaseStoreOptions) {
    const schema = options.schema ?? 'public';
    if (!IDENT.test(schema)) throw new Error(`postgres schema "${schema}" is not a plain lowercase identifier`);
    this.schema = schema;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4 });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  async migrate(): Promise<void> {
    const s = this.schema;
    await this.#tx(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`perimeter-migrate:${s}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.perimeter_schema_migrations (
        component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version))`);
      const res = await client.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${s}.perimeter_schema_migrations WHERE component = 'bases'`);
      const steps = migrations(s);
      for (let v = (res.rows[0]?.v ?? 0) + 1; v <= steps.length; v++) {
        await client.query(steps[v - 1] as string);
        await client.query(`INSERT INTO ${s}.perimeter_schema_migrations (component, version) VALUES ('bases', $1)`, [v]);
      }
    });
  }

  async putDocument(doc: DocumentInput, chunks: readonly ChunkInput[]): Promise<PutResult> {
    const s = this.schema;
    return this.#tx(async (client) => {
      // Serialises ingests of one document across instances, so two cannot both take version n+1.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`perimeter-bases:${s}:${doc.baseId}:${doc.documentId}`]);
      const cur = await client.query<Record<string, unknown>>(
        `SELECT ${DOCUMENT_COLUMNS} FROM ${s}.bases_documents WHERE base_id = $1 AND document_id = $2 AND current`,
        [doc.baseId, doc.documentId],
      );
      const current = cur.rows[0];
      if (current !== undefined && current.sha256 === doc.sha256) return { document: documentFromRow(current), status: 'unchanged' as const };
      const version = current === undefined ? 1 : Number(current.version) + 1;
      await client.query(`UPDATE ${s}.bases_documents SET current = false WHERE base_id = $1 AND document_id = $2`, [doc.baseId, doc.documentId]);
      await client.query(`DELETE FROM ${s}.bases_chunks WHERE base_id = $1 AND document_id = $2`, [doc.baseId, doc.documentId]);
      await client.query(
        `INSERT INTO ${s}.bases_documents (${DOCUMENT_COLUMNS}, current, text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, true, $13)`,
        [doc.baseId, doc.documentId, version, doc.sha256, doc.title, doc.mediaType, doc.source ?? null, doc.ingestedAt, doc.ingestedBy, doc.text.length, chunks.length, doc.level, doc.text],
      );
      // Batches of rows per statement: one round trip per batch instead of per chunk.
      for (let i = 0; i < chunks.length; i += 200) {
        const batch = chunks.slice(i, i + 200);
        const params: unknown[] = [];
        const tuples = batch.map((c) => {
          const at = params.length;
          params.push(doc.baseId, doc.documentId, version, c.index, doc.sha256, c.start, c.end, c.heading ?? null, c.text, c.vector === undefined ? null : encodeVector(c.vector));
          return `(${Array.from({ length: 10 }, (_v, k) => `$${at + k + 1}`).join(', ')})`;
        });
        await client.query(
          `INSERT INTO ${s}.bases_chunks (base_id, document_id, version, chunk_index, sha256, start_offset, end_offset, heading, text, vector) VALUES ${tuples.join(', ')}`,
          params,
        );
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
      return { document: stored, status: current === undefined ? ('created' as const) : ('updated' as const) };
    });
  }

  async getDocument(baseId: string, documentId: string): Promise<(StoredDocument & { text: string }) | undefined> {
    const res = await this.pool.query<Record<string, unknown>>(
      `SELECT ${DOCUMENT_COLUMNS}, text FROM ${this.schema}.bases_documents WHERE base_id = $1 AND document_id = $2 AND current`,
      [baseId, documentId],
    );
    const row = res.rows[0];
    return row === undefined ? undefined : { ...documentFromRow(row), text: String(row.text) };
  }

  async listDocuments(baseId: string): Promise<StoredDocument[]> {
    const res = await this.pool.query<Record<string, unknown>>(
      `SELECT ${DOCUMENT_COLUMNS} FROM ${this.schema}.bases_documents WHERE base_id = $1 AND current ORDER BY document_id COLLATE "C"`,
      [baseId],
    );
    return res.rows.map(documentFromRow);
  }

  async versions(baseId: string, documentId: string): Promise<StoredDocument[]> {
    const res = await this.pool.query<Record<string, unknown>>(
      `SELECT ${DOCUMENT_COLUMNS} FROM ${this.schema}.bases_documents WHERE base_id = $1 AND document_id = $2 ORDER BY version`,
      [baseId, documentId],
    );
    return res.rows.map(documentFromRow);
  }

  async countDocuments(baseIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(baseIds.map((b) => [b, 0]));
    if (baseIds.length === 0) return out;
    const res = await this.pool.query<{ base_id: string; n: string }>(
      `SELECT base_id, COUNT(*) AS n FROM ${this.schema}.bases_documents WHERE current AND base_id = ANY($1::text[]) GROUP BY base_id`,
      [[...baseIds]],
    );
    for (const r of res.rows) out.set(r.base_id, Number(r.n));
    return out;
  }

  async deleteDocument(baseId: string, documentId: string): Promise<boolean> {
    const s = this.schema;
    return this.#tx(async (client) => {
      await client.query(`DELETE FROM ${s}.bases_chunks WHERE base_id = $1 AND document_id = $2`, [baseId, documentId]);
      const res = await client.query(`DELETE FROM ${s}.bases_documents WHERE base_id = $1 AND document_id = $2`, [baseId, documentId]);
      return (res.rowCount ?? 0) > 0;
    });
  }

  async searchText(baseIds: readonly string[], query: string, limit: number, match: TermMatch = 'all'): Promise<ChunkHit[]> {
    const q = websearchQuery(query, match);
    if (q === undefined || baseIds.length === 0) return [];
    const s = this.schema;
    const res = await this.pool.query<Record<string, unknown>>(
      `SELECT ${CHUNK_SELECT}, ts_rank_cd(c.tsv, q) AS score
       FROM ${s}.bases_chunks c ${docJoin(s)}, websearch_to_tsquery('${TS_CONFIG}', $1) q
       WHERE c.tsv @@ q AND c.base_id = ANY($2::text[])
       ORDER BY score DESC, c.base_id COLLATE "C", c.document_id COLLATE "C", c.chunk_index LIMIT $3`,
      [q, [...baseIds], limit],
    );
    return res.rows.map((r) => ({ ...chunkFromRow(r), score: Number(r.score) }));
  }

  async vectors(baseIds: readonly string[]): Promise<ChunkVector[]> {
    if (baseIds.length === 0) return [];
    const s = this.schema;
    const res = await this.pool.query<Record<string, unknown>>(
      `SELECT ${CHUNK_SELECT}, c.vector FROM ${s}.bases_chunks c ${docJoin(s)} WHERE c.vector IS NOT NULL AND c.base_id = ANY($1::text[])`,
      [[...baseIds]],
    );
    return res.rows.map((r) => ({ ...chunkFromRow(r), vector: decodeVector(r.vector as Buffer) }));
  }

  async createMove(m: NewMove): Promise<MoveInfo> {
    const res = await this.pool.query<Record<string, unknown>>(
      `INSERT INTO ${this.schema}.bases_moves (id, base_id, document_id, from_deployment, to_deployment, to_base, state, requested_by, requested_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7, $8) RETURNING *`,
      [m.id, m.baseId, m.documentId, m.fromDeployment, m.toDeployment, m.toBase, m.requestedBy, m.requestedAt],
    );
    const row = res.rows[0];
    if (row === undefined) throw new Error('move not stored');
    return moveFromRow(row);
  }

  async getMove(id: string): Promise<MoveInfo | undefined> {
    const res = await this.pool.query<Record<string, unknown>>(`SELECT * FROM ${this.schema}.bases_moves WHERE id = $1`, [id]);
    const row = res.rows[0];
    return row === undefined ? undefined : moveFromRow(row);
  }

  async updateMove(id: string, from: MoveState, u: MoveUpdate): Promise<MoveInfo | undefined> {
    const res = await this.pool.query<Record<string, unknown>>(
      `UPDATE ${this.schema}.bases_moves SET state = $1, approved_by = COALESCE($2, approved_by), decided_at = COALESCE($3, decided_at),
         completed_at = COALESCE($4, completed_at), failure = COALESCE($5, failure)
       WHERE id = $6 AND state = $7 RETURNING *`,
      [u.state, u.approvedBy ?? null, u.decidedAt ?? null, u.completedAt ?? null, u.failure ?? null, id, from],
    );
    const row = res.rows[0];
    return row === undefined ? undefined : moveFromRow(row);
  }

  async listMoves(limit = 500): Promise<MoveInfo[]> {
    const res = await this.pool.query<Record<string, unknown>>(`SELECT * FROM ${this.schema}.bases_moves ORDER BY seq DESC LIMIT $1`, [
      Math.max(1, Math.min(limit, 5000)),
    ]);
    return res.rows.map(moveFromRow);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async #tx<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
