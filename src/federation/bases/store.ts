import type { MoveInfo, MoveState } from './api.js';

/** One stored document version, without its text. */
export interface StoredDocument {
  readonly baseId: string;
  readonly documentId: string;
  readonly version: number;
  /** sha256 of the raw bytes as ingested. */
  readonly sha256: string;
  readonly title: string;
  readonly mediaType: string;
  readonly source: string | undefined;
  /** ISO time. */
  readonly ingestedAt: string;
  readonly ingestedBy: string;
  readonly chars: number;
  readonly chunks: number;
  /** The level the classifier gave the text at ingest. */
  readonly level: string;
}

export interface DocumentInput {
  readonly baseId: string;
  readonly documentId: string;
  readonly sha256: string;
  readonly title: string;
  readonly mediaType: string;
  readonly source: string | undefined;
  readonly ingestedAt: string;
  readonly ingestedBy: string;
  readonly level: string;
  /** The extracted text, kept for full-document fetch in the home deployment. */
  readonly text: string;
}

export interface ChunkInput {
  /** 0-based, stable for a given text and chunker settings. */
  readonly index: number;
  readonly text: string;
  /** Offsets into the document text. */
  readonly start: number;
  readonly end: number;
  readonly heading: string | undefined;
  readonly vector?: Float32Array | undefined;
}

export interface PutResult {
  readonly document: StoredDocument;
  readonly status: 'created' | 'updated' | 'unchanged';
}

/** A current chunk with its document's provenance. */
export interface StoredChunk {
  readonly baseId: string;
  readonly documentId: string;
  readonly version: number;
  readonly chunkIndex: number;
  readonly text: string;
  readonly title: string;
  readonly mediaType: string;
  readonly sha256: string;
}

export interface ChunkHit extends StoredChunk {
  /** Higher is better. */
  readonly score: number;
}

export interface ChunkVector extends StoredChunk {
  readonly vector: Float32Array;
}

/** Columns selected for a StoredChunk: chunks as c joined to their document version as d. */
export const CHUNK_SELECT = 'c.base_id, c.document_id, c.version, c.chunk_index, c.text, d.title, d.media_type, d.sha256';

export function chunkFromRow(r: Record<string, unknown>): StoredChunk {
  return {
    baseId: String(r.base_id),
    documentId: String(r.document_id),
    version: Number(r.version),
    chunkIndex: Number(r.chunk_index),
    text: String(r.text),
    title: String(r.title),
    mediaType: String(r.media_type),
    sha256: String(r.sha256),
  };
}

export interface NewMove {
  readonly id: string;
  readonly baseId: string;
  readonly documentId: string;
  readonly fromDeployment: string;
  readonly toDeployment: string;
  readonly toBase: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
}

export interface MoveUpdate {
  readonly state: MoveState;
  readonly approvedBy?: string | undefined;
  readonly decidedAt?: string | undefined;
  readonly completedAt?: string | undefined;
  readonly failure?: string | undefined;
}

/**
 * Storage for Bases in this deployment. Document versions are kept; only the
 * current version's chunks are searchable. Implementations: sqlite/ (FTS5, BM25)
 * and postgres/ (tsvector, ts_rank_cd).
 */
export interface BaseStore {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  /**
   * Stores a version atomically: the same sha256 as the current version is a no-op
   * returning it; different bytes make version n+1 and replace the searchable chunks.
   */
  putDocument(doc: DocumentInput, chunks: readonly ChunkInput[]): Promise<PutResult>;
  /** The current version, with its text. */
  getDocument(baseId: string, documentId: string): Promise<(StoredDocument & { readonly text: string }) | undefined>;
  /** Current versions, by document id. */
  listDocuments(baseId: string): Promise<StoredDocument[]>;
  /** Every version of one document, oldest first. */
  versions(baseId: string, documentId: string): Promise<StoredDocument[]>;
  /** Current documents per Base id. */
  countDocuments(baseIds: readonly string[]): Promise<Map<string, number>>;
  /** Removes every version and chunk; false when there was nothing. */
  deleteDocument(baseId: string, documentId: string): Promise<boolean>;
  /** Full-text search over current chunks, best first. Query text is plain words and "phrases". */
  /** BM25-style ranked chunks; `all` needs every term (the default), `any` at least one. */
  searchText(baseIds: readonly string[], query: string, limit: number, match?: TermMatch): Promise<ChunkHit[]>;
  /** Current chunks that have a vector, in the given Bases. */
  vectors(baseIds: readonly string[]): Promise<ChunkVector[]>;
  createMove(move: NewMove): Promise<MoveInfo>;
  getMove(id: string): Promise<MoveInfo | undefined>;
  /** Compare-and-set: applies only when the move is in `from`; returns undefined otherwise. */
  updateMove(id: string, from: MoveState, update: MoveUpdate): Promise<MoveInfo | undefined>;
  /** Newest first. */
  listMoves(limit?: number): Promise<MoveInfo[]>;
  close(): Promise<void>;
}

/**
 * Words and "quoted phrases" from a user query, for the FTS engines. Operators are
 * not passed through: a query is text to find, not a program.
 */
export type TermMatch = 'all' | 'any';

export function queryTerms(query: string): { words: string[]; phrases: string[] } {
  const phrases: string[] = [];
  const rest = query.replace(/"([^"]*)"/g, (_m, p: string) => {
    const words = tokens(p);
    if (words.length > 0) phrases.push(words.join(' '));
    return ' ';
  });
  return { words: tokens(rest), phrases };
}

function tokens(text: string): string[] {
  return (text.normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 32);
}

export function encodeVector(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function decodeVector(b: Uint8Array): Float32Array {
  // Copied so the result is aligned and owns its memory.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Reciprocal rank fusion (Cormack et al., k = 60): robust to the two scores' different scales. */
export function reciprocalRankFusion<T>(lists: readonly (readonly T[])[], key: (item: T) => string, k = 60): { item: T; score: number }[] {
  const fused = new Map<string, { item: T; score: number }>();
  for (const list of lists) {
    list.forEach((item, rank) => {
      const id = key(item);
      const entry = fused.get(id) ?? { item, score: 0 };
      entry.score += 1 / (k + rank + 1);
      fused.set(id, entry);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score);
}

export function chunkKey(c: { baseId: string; documentId: string; chunkIndex: number }): string {
  return `${c.baseId}\u0000${c.documentId}\u0000${c.chunkIndex}`;
}

export function moveFromRow(r: Record<string, unknown>): MoveInfo {
  const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
  return {
    id: String(r.id),
    baseId: String(r.base_id),
    documentId: String(r.document_id),
    fromDeployment: String(r.from_deployment),
    toDeployment: String(r.to_deployment),
    toBase: String(r.to_base),
    state: String(r.state) as MoveState,
    requestedBy: String(r.requested_by),
    approvedBy: opt(r.approved_by),
    requestedAt: String(r.requested_at),
    decidedAt: opt(r.decided_at),
    completedAt: opt(r.completed_at),
    failure: opt(r.failure),
  };
}

export function documentFromRow(r: Record<string, unknown>): StoredDocument {
  return {
    baseId: String(r.base_id),
    documentId: String(r.document_id),
    version: Number(r.version),
    sha256: String(r.sha256),
    title: String(r.title),
    mediaType: String(r.media_type),
    source: r.source === null || r.source === undefined ? undefined : String(r.source),
    ingestedAt: String(r.ingested_at),
    ingestedBy: String(r.ingested_by),
    chars: Number(r.chars),
    chunks: Number(r.chunks),
    level: String(r.level),
  };
}

export const DOCUMENT_COLUMNS = 'base_id, document_id, version, sha256, title, media_type, source, ingested_at, ingested_by, chars, chunks, level';
