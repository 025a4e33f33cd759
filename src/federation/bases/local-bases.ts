import { createHash, randomUUID } from 'node:crypto';
import type { Classifier } from '../../classify/classifier.js';
import type { ClassifierConfig } from '../../classify/config.js';
import { buildLevelTable, decideLevel, type LevelTable } from '../../classify/levels.js';
import type { Finding } from '../../classify/types.js';
import type { JsonValue } from '../../domain/json.js';
import { GatewayError } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import type { Authorizer } from '../../identity/authorize.js';
import type { AuditEvent, AuditLog } from '../../record/audit.js';
import type {
  BaseSummary,
  DeploymentStatus,
  BasesApi,
  Caller,
  DocumentInfo,
  FullDocument,
  IngestInput,
  IngestResult,
  MoveInfo,
  MovePayload,
  MoveRequestInput,
  MoveTransport,
  SearchHit,
  SearchPurpose,
  SearchRequest,
  SearchResponse,
} from './api.js';
import { chunkDocument, type Chunk } from './chunk.js';
import type { BaseDefinition, BasesConfig } from './config.js';
import { extractText, mediaTypeOf } from './extract.js';
import { buildSnippet, type SnippetGuard } from './snippet.js';
import { chunkKey, cosine, queryTerms, reciprocalRankFusion, type BaseStore, type ChunkHit, type StoredDocument, type TermMatch } from './store.js';

/** Vectors for texts from an embedding model served through the gateway's own policy. */
export type EmbedFn = (texts: readonly string[], context: EmbedContext) => Promise<Float32Array[]>;

export interface EmbedContext {
  /** Who the embedding call runs as (the ingesting or searching principal). */
  readonly principal: Principal;
  readonly requestId: string;
  /** A caller label that raises the request to at least the Base's level. */
  readonly level: string | undefined;
}

export interface LocalBasesOptions {
  readonly deployment: { readonly id: string; readonly zone: 'on-prem' | 'cloud' };
  readonly config: BasesConfig;
  readonly store: BaseStore;
  readonly authorizer: Authorizer;
  readonly classifier: Classifier;
  /** The classifier's config: entity levels and combination rules, applied across a whole document. */
  readonly classification: ClassifierConfig;
  /** Every ingest, search, fetch and move step is appended here. */
  readonly audit?: AuditLog | undefined;
  readonly embed?: EmbedFn | undefined;
  /** The federation transport for moves; without it moves can be requested but not approved. */
  readonly transport?: MoveTransport | undefined;
  readonly now?: () => number;
}

export const MAX_SEARCH_LIMIT = 50;
const MAX_QUERY_CHARS = 1000;
const DOCUMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/**
 * The Bases homed in this deployment. A Base is visible to a caller when a role's
 * `bases` allowlist names it AND the caller's groups or roles meet the Base's
 * access lists (and, over federation, the calling peer is on the Base's peer list
 * for the purpose). Anything else behaves as if the Base did not exist.
 */
export class LocalBases implements BasesApi {
  readonly #o: LocalBasesOptions;
  readonly #defs: ReadonlyMap<string, BaseDefinition>;
  readonly #guard: SnippetGuard;
  readonly #table: LevelTable;
  readonly #snippetRank: number;
  readonly #now: () => number;

  constructor(options: LocalBasesOptions) {
    this.#o = options;
    this.#defs = new Map(options.config.definitions.map((d) => [d.id, d]));
    const levels = options.classifier.levels;
    this.#table = buildLevelTable(options.classification);
    this.#guard = { classify: (t) => options.classifier.classify(t, 'snippet'), levelOf: (e) => this.#table.levelOf(e), levels };
    this.#snippetRank = options.config.snippetLevel === undefined ? Math.max(0, levels.length - 2) : this.#rank(options.config.snippetLevel);
    this.#now = options.now ?? Date.now;
  }

  get store(): BaseStore {
    return this.#o.store;
  }

  async list(caller: Caller): Promise<BaseSummary[]> {
    const visible = [...this.#defs.values()].filter((d) => this.#readable(caller, d, 'search') || this.#readable(caller, d, 'retrieve'));
    const counts = await this.#o.store.countDocuments(visible.map((d) => d.id));
    return visible.map((d) => this.#summary(d, counts.get(d.id) ?? 0));
  }

  async listWithStatus(caller: Caller): Promise<{ bases: BaseSummary[]; deployments: DeploymentStatus[] }> {
    return { bases: await this.list(caller), deployments: [{ id: this.#o.deployment.id, status: 'ok' }] };
  }

  async search(caller: Caller, request: SearchRequest): Promise<SearchResponse> {
    const query = request.query.trim();
    if (query === '' || query.length > MAX_QUERY_CHARS) throw new GatewayError('invalid_request', `query must have 1 to ${MAX_QUERY_CHARS} characters.`, { param: 'query' });
    const limit = Math.max(1, Math.min(MAX_SEARCH_LIMIT, Math.floor(request.limit)));
    const defs = request.bases === undefined ? [...this.#defs.values()].filter((d) => this.#readable(caller, d, request.purpose)) : request.bases.map((id) => this.#visible(caller, id, request.purpose));
    let maxRank = this.#snippetRank;
    if (request.maxSnippetLevel !== undefined) {
      if (!this.#o.classifier.levels.includes(request.maxSnippetLevel)) throw new GatewayError('invalid_request', 'maxSnippetLevel is not a classification level.', { param: 'maxSnippetLevel' });
      maxRank = Math.min(maxRank, this.#rank(request.maxSnippetLevel));
    }
    const ids = [...new Set(defs.map((d) => d.id))];
    // A search box means every word; a retrieval query is a question, where any word may count.
    const ranked = await this.#rankChunks(caller, ids, query, limit, request.purpose === 'retrieve' ? 'any' : 'all');
    const { words, phrases } = queryTerms(query);
    const terms = [...phrases, ...words];
    const hits: SearchHit[] = ranked.map(({ chunk, score }) => {
      const def = this.#defs.get(chunk.baseId) as BaseDefinition;
      const snippet = buildSnippet(chunk.text, terms, this.#o.config.snippetChars, maxRank, this.#guard);
      return {
        baseId: chunk.baseId,
        deploymentId: this.#o.deployment.id,
        documentId: chunk.documentId,
        version: chunk.version,
        title: chunk.title,
        mediaType: chunk.mediaType,
        sha256: chunk.sha256,
        chunkIndex: chunk.chunkIndex,
        score: round(score),
        snippet: snippet.text,
        redacted: snippet.redacted,
        withheld: snippet.withheld,
        level: def.level,
      };
    });
    const redacted: Record<string, number> = {};
    for (const h of hits) for (const [t, n] of Object.entries(h.redacted)) redacted[t] = (redacted[t] ?? 0) + n;
    await this.#audit(caller, 'bases.search', caller.requestId, {
      bases: ids,
      purpose: request.purpose,
      hits: hits.length,
      documents: [...new Set(hits.map((h) => `${h.baseId}/${h.documentId}`))].length,
      redacted,
      withheld: hits.filter((h) => h.withheld).length,
    });
    return { hits, deployments: [{ id: this.#o.deployment.id, status: 'ok' }] };
  }

  async ingest(caller: Caller, input: IngestInput): Promise<IngestResult> {
    this.#localOnly(caller, 'Documents are ingested in their home deployment only.');
    const def = this.#visible(caller, input.baseId, 'search');
    if (!this.#o.authorizer.mayWriteBase(caller.principal, def.id)) throw new GatewayError('forbidden', `Your roles do not permit adding documents to Base "${def.id}".`);
    const mediaType = mediaTypeOf(input.mediaType);
    if ((input.text === undefined) === (input.content === undefined)) throw new GatewayError('invalid_request', 'Give exactly one of text or content.', { param: 'text' });
    const bytes = input.content ?? new TextEncoder().encode(input.text);
    const title = input.title.trim();
    if (title === '' || title.length > 500) throw new GatewayError('invalid_request', 'title must have 1 to 500 characters.', { param: 'title' });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const documentId = input.documentId ?? slug(title, sha256);
    if (!DOCUMENT_ID.test(documentId)) throw new GatewayError('invalid_request', 'documentId must be letters, digits, ".", "_", ":" or "-" (at most 200).', { param: 'documentId' });
    const extracted = await extractText(mediaType, bytes, { maxBytes: this.#o.config.maxDocumentBytes, maxPdfPages: this.#o.config.maxPdfPages });
    const chunks = chunkDocument(extracted.text, extracted.sections, this.#o.config.chunk);
    const classified = this.#classifyChunks(chunks);
    if (classified.rank > this.#rank(def.level)) {
      await this.#audit(caller, 'bases.ingest', `${def.id}/${documentId}`, { baseId: def.id, documentId, sha256, level: classified.level, baseLevel: def.level, findings: classified.findings }, 'failure');
      throw new GatewayError('document_too_sensitive', `The document classifies as ${classified.level}, above Base "${def.id}" (${def.level}).`);
    }
    const vectors = await this.#embedChunks(caller, chunks, def.level);
    const put = await this.#o.store.putDocument(
      {
        baseId: def.id,
        documentId,
        sha256,
        title,
        mediaType,
        source: input.source,
        ingestedAt: new Date(this.#now()).toISOString(),
        ingestedBy: caller.principal.id,
        level: classified.level,
        text: extracted.text,
      },
      chunks.map((c, i) => ({ index: c.index, text: c.text, start: c.start, end: c.end, heading: c.heading, vector: vectors?.[i] })),
    );
    await this.#audit(caller, 'bases.ingest', `${def.id}/${documentId}`, {
      baseId: def.id,
      documentId,
      version: put.document.version,
      sha256,
      status: put.status,
      mediaType,
      bytes: bytes.byteLength,
      chunks: put.document.chunks,
      level: put.document.level,
      findings: classified.findings,
      ...(extracted.pages === undefined ? {} : { pages: extracted.pages }),
    });
    return { ...this.#info(put.document), status: put.status };
  }

  async documents(caller: Caller, baseId: string): Promise<DocumentInfo[]> {
    const def = this.#visible(caller, baseId, 'search');
    return (await this.#o.store.listDocuments(def.id)).map((d) => this.#info(d));
  }

  async document(caller: Caller, baseId: string, documentId: string): Promise<FullDocument> {
    if (caller.viaPeer !== undefined) {
      await this.#audit(caller, 'bases.document.read', `${baseId}/${documentId}`, { baseId, documentId }, 'failure');
      throw new GatewayError('document_not_local', 'Full documents are served only by their home deployment, to its own callers.');
    }
    const def = this.#visible(caller, baseId, 'retrieve');
    const doc = await this.#o.store.getDocument(def.id, documentId);
    if (doc === undefined) throw new GatewayError('document_not_found', `Document "${documentId}" was not found in Base "${def.id}".`);
    await this.#audit(caller, 'bases.document.read', `${def.id}/${documentId}`, { baseId: def.id, documentId, version: doc.version, sha256: doc.sha256, chars: doc.chars });
    return { ...this.#info(doc), text: doc.text };
  }

  async requestMove(caller: Caller, m: MoveRequestInput): Promise<MoveInfo> {
    this.#localOnly(caller, 'Moves are requested in the document’s home deployment.');
    const def = this.#visible(caller, m.baseId, 'search');
    if (!this.#o.authorizer.mayWriteBase(caller.principal, def.id)) throw new GatewayError('forbidden', `Your roles do not permit moving documents out of Base "${def.id}".`);
    if (m.toDeployment === this.#o.deployment.id) throw new GatewayError('invalid_request', 'toDeployment is this deployment; a move goes to another one.', { param: 'toDeployment' });
    const doc = await this.#o.store.getDocument(def.id, m.documentId);
    if (doc === undefined) throw new GatewayError('document_not_found', `Document "${m.documentId}" was not found in Base "${def.id}".`);
    const move = await this.#o.store.createMove({
      id: randomUUID(),
      baseId: def.id,
      documentId: doc.documentId,
      fromDeployment: this.#o.deployment.id,
      toDeployment: m.toDeployment,
      toBase: m.toBase ?? def.id,
      requestedBy: caller.principal.id,
      requestedAt: new Date(this.#now()).toISOString(),
    });
    await this.#audit(caller, 'bases.move.request', move.id, moveData(move, doc));
    return move;
  }

  async approveMove(caller: Caller, moveId: string, approve: boolean): Promise<MoveInfo> {
    this.#localOnly(caller, 'Moves are approved in the document’s home deployment.');
    if (!this.#o.authorizer.mayApproveMoves(caller.principal)) throw new GatewayError('forbidden', 'Approving moves needs a role with mayApproveMoves.');
    const move = await this.#o.store.getMove(moveId);
    if (move === undefined) throw new GatewayError('move_not_found', 'No such move.');
    // Four eyes: whoever asked for a move cannot also let it happen.
    if (move.requestedBy === caller.principal.id) {
      await this.#audit(caller, approve ? 'bases.move.approve' : 'bases.move.reject', move.id, { ...moveData(move), reason: 'self_approval' }, 'failure');
      throw new GatewayError('forbidden', 'A move must be decided by someone other than its requester.');
    }
    if (move.state !== 'requested') throw new GatewayError('move_conflict', `The move is already ${move.state}.`);
    if (approve && this.#o.transport === undefined) throw new GatewayError('not_implemented', 'Moves need the federation transport, which is not configured.');
    const decided = await this.#o.store.updateMove(move.id, 'requested', {
      state: approve ? 'approved' : 'rejected',
      approvedBy: caller.principal.id,
      decidedAt: new Date(this.#now()).toISOString(),
    });
    if (decided === undefined) throw new GatewayError('move_conflict', 'The move was decided by someone else meanwhile.');
    await this.#audit(caller, approve ? 'bases.move.approve' : 'bases.move.reject', move.id, moveData(decided));
    return approve ? this.#execute(caller, decided) : decided;
  }

  async moves(caller: Caller): Promise<MoveInfo[]> {
    this.#localOnly(caller, 'Moves are listed in the home deployment.');
    const all = await this.#o.store.listMoves();
    if (this.#o.authorizer.mayApproveMoves(caller.principal)) return all;
    return all.filter((m) => m.requestedBy === caller.principal.id);
  }

  /**
   * Imports a moved document into a local Base (the lead exposes this over the peer
   * transport). The destination Base must be at least as sensitive as the source
   * and the text is classified again here: a move never lowers a document's level.
   */
  async receiveMove(fromPeer: string, payload: MovePayload): Promise<DocumentInfo> {
    const actor = `peer:${fromPeer}`;
    const subject = payload.moveId;
    const def = this.#defs.get(payload.base.id);
    const fail = async (reason: string, error: GatewayError): Promise<never> => {
      await this.#append({ kind: 'bases', action: 'bases.move.receive', actor, subject, outcome: 'failure', data: { fromPeer, baseId: payload.base.id, documentId: payload.document.documentId, reason } });
      throw error;
    };
    if (def === undefined) return fail('base_not_found', new GatewayError('base_not_found', `Base "${payload.base.id}" was not found.`));
    if (this.#rank(payload.base.level) > this.#rank(def.level)) {
      return fail('level_below_source', new GatewayError('document_too_sensitive', `Base "${def.id}" (${def.level}) is below the source Base's level (${payload.base.level}).`));
    }
    const d = payload.document;
    if (!DOCUMENT_ID.test(d.documentId) || d.text.trim() === '') return fail('invalid_document', new GatewayError('invalid_document', 'The moved document is not valid.'));
    const chunks = chunkDocument(d.text, [], this.#o.config.chunk);
    const classified = this.#classifyChunks(chunks);
    if (classified.rank > this.#rank(def.level)) return fail('document_too_sensitive', new GatewayError('document_too_sensitive', `The document classifies above Base "${def.id}" (${def.level}).`));
    const put = await this.#o.store.putDocument(
      { baseId: def.id, documentId: d.documentId, sha256: d.sha256, title: d.title, mediaType: d.mediaType, source: d.source, ingestedAt: d.ingestedAt, ingestedBy: d.ingestedBy, level: classified.level, text: d.text },
      chunks.map((c) => ({ index: c.index, text: c.text, start: c.start, end: c.end, heading: c.heading })),
    );
    await this.#append({
      kind: 'bases',
      action: 'bases.move.receive',
      actor,
      subject,
      data: { fromPeer, baseId: def.id, documentId: d.documentId, version: put.document.version, sha256: d.sha256, requestedBy: payload.requestedBy, approvedBy: payload.approvedBy, level: classified.level },
    });
    return this.#info(put.document);
  }

  async close(): Promise<void> {
    await this.#o.store.close();
  }

  async #execute(caller: Caller, move: MoveInfo): Promise<MoveInfo> {
    const transport = this.#o.transport as MoveTransport;
    const failWith = async (code: string): Promise<MoveInfo> => {
      const failed = await this.#o.store.updateMove(move.id, 'approved', { state: 'failed', failure: code, completedAt: new Date(this.#now()).toISOString() });
      await this.#audit(caller, 'bases.move.fail', move.id, { ...moveData(move), failure: code }, 'failure');
      return failed ?? { ...move, state: 'failed', failure: code };
    };
    const doc = await this.#o.store.getDocument(move.baseId, move.documentId);
    if (doc === undefined) return failWith('document_not_found');
    const source = this.#defs.get(move.baseId);
    const payload: MovePayload = {
      moveId: move.id,
      fromDeployment: this.#o.deployment.id,
      base: { id: move.toBase, sourceId: move.baseId, level: source?.level ?? this.#o.classifier.levels[this.#o.classifier.levels.length - 1] ?? 'regulated' },
      document: {
        documentId: doc.documentId,
        version: doc.version,
        sha256: doc.sha256,
        title: doc.title,
        mediaType: doc.mediaType,
        source: doc.source,
        ingestedAt: doc.ingestedAt,
        ingestedBy: doc.ingestedBy,
        text: doc.text,
      },
      requestedBy: move.requestedBy,
      approvedBy: move.approvedBy ?? caller.principal.id,
    };
    try {
      await transport.send(move.toDeployment, payload);
    } catch (err) {
      // Only a code travels on: a transport's message may quote the peer's answer.
      return failWith(err instanceof GatewayError ? err.code : 'transport_failed');
    }
    // The local copy goes only after the destination has it.
    try {
      await this.#o.store.deleteDocument(move.baseId, move.documentId);
    } catch {
      return failWith('source_delete_failed');
    }
    const done = await this.#o.store.updateMove(move.id, 'approved', { state: 'completed', completedAt: new Date(this.#now()).toISOString() });
    await this.#audit(caller, 'bases.move.complete', move.id, { ...moveData(move), version: doc.version, sha256: doc.sha256 });
    return done ?? { ...move, state: 'completed' };
  }

  async #rankChunks(caller: Caller, baseIds: readonly string[], query: string, limit: number, match: TermMatch): Promise<{ chunk: ChunkHit; score: number }[]> {
    if (baseIds.length === 0) return [];
    const lexical = await this.#o.store.searchText(baseIds, query, limit * 2, match);
    const embed = this.#o.embed;
    if (embed === undefined) return lexical.slice(0, limit).map((chunk) => ({ chunk, score: chunk.score }));
    const stored = await this.#o.store.vectors(baseIds);
    if (stored.length === 0) return lexical.slice(0, limit).map((chunk) => ({ chunk, score: chunk.score }));
    const [q] = await embed([query], { principal: caller.principal, requestId: caller.requestId, level: undefined });
    if (q === undefined) return lexical.slice(0, limit).map((chunk) => ({ chunk, score: chunk.score }));
    const semantic = stored
      .map((c) => ({ ...c, score: cosine(q, c.vector) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, limit * 2)
      .map(({ vector: _v, ...rest }) => rest);
    return reciprocalRankFusion<ChunkHit>([lexical, semantic], chunkKey)
      .slice(0, limit)
      .map(({ item, score }) => ({ chunk: item, score }));
  }

  async #embedChunks(caller: Caller, chunks: readonly Chunk[], level: string): Promise<Float32Array[] | undefined> {
    const embed = this.#o.embed;
    if (embed === undefined || chunks.length === 0) return undefined;
    const out: Float32Array[] = [];
    for (let i = 0; i < chunks.length; i += 64) {
      const batch = chunks.slice(i, i + 64).map((c) => c.text);
      const vectors = await embed(batch, { principal: caller.principal, requestId: caller.requestId, level });
      if (vectors.length !== batch.length) throw new GatewayError('upstream_error', 'The embedding backend returned the wrong number of vectors.');
      out.push(...vectors);
    }
    return out;
  }

  /**
   * The document's level: chunks are classified one by one (each within the
   * classifier's per-text budget), then the combination rules run over the
   * findings of the whole document, so a name on page 1 and a diagnosis on page 9
   * still make it regulated. A failed chunk makes the document the highest level.
   */
  #classifyChunks(chunks: readonly Chunk[]): { level: string; rank: number; findings: Record<string, number> } {
    const levels = this.#o.classifier.levels;
    let rank = 0;
    const all: Finding[] = [];
    // Chunks overlap; a finding seen in two chunks is counted once, by its place in the document.
    const seen = new Set<string>();
    for (const c of chunks) {
      let classification: ReturnType<Classifier['classify']>;
      try {
        classification = this.#o.classifier.classify(c.text, `chunks[${c.index}]`);
      } catch {
        rank = levels.length - 1;
        continue;
      }
      rank = Math.max(rank, this.#rank(classification.level));
      for (const f of classification.findings) {
        const key = `${f.entity}:${c.start + f.start}`;
        if (seen.has(key)) continue;
        seen.add(key);
        all.push(f);
      }
    }
    rank = Math.max(rank, decideLevel(all, this.#o.classification, this.#table).level);
    const findings: Record<string, number> = {};
    for (const f of all) findings[f.entity] = (findings[f.entity] ?? 0) + 1;
    return { level: levels[rank] ?? (levels[levels.length - 1] as string), rank, findings };
  }

  /** Unknown level names rank highest: fail closed. */
  #rank(level: string): number {
    const i = this.#o.classifier.levels.indexOf(level);
    return i >= 0 ? i : this.#o.classifier.levels.length - 1;
  }

  #readable(caller: Caller, def: BaseDefinition, purpose: SearchPurpose): boolean {
    const p = caller.principal;
    if (!this.#o.authorizer.mayReadBase(p, def.id)) return false;
    const member = def.access.groups.some((g) => p.groups.includes(g)) || def.access.roles.some((r) => p.roles.includes(r));
    if (!member) return false;
    const peer = caller.viaPeer;
    if (peer === undefined) return true;
    return purpose === 'retrieve' ? def.peers.retrieve.includes(peer) : def.peers.search.includes(peer) || def.peers.search.includes('*');
  }

  /** The definition, or base_not_found whether it is missing or merely hidden from this caller. */
  #visible(caller: Caller, baseId: string, purpose: SearchPurpose): BaseDefinition {
    const def = this.#defs.get(baseId);
    if (def === undefined || !this.#readable(caller, def, purpose)) throw new GatewayError('base_not_found', `Base "${baseId}" was not found.`);
    return def;
  }

  #localOnly(caller: Caller, message: string): void {
    if (caller.viaPeer !== undefined) throw new GatewayError('forbidden', message);
  }

  #summary(d: BaseDefinition, documents: number): BaseSummary {
    return { id: d.id, name: d.name, description: d.description, deploymentId: this.#o.deployment.id, zone: this.#o.deployment.zone, level: d.level, documents, local: true };
  }

  #info(d: StoredDocument): DocumentInfo {
    return { ...d, deploymentId: this.#o.deployment.id };
  }

  async #audit(caller: Caller, action: string, subject: string, data: Record<string, JsonValue | undefined>, outcome: 'success' | 'failure' = 'success'): Promise<void> {
    const clean: Record<string, JsonValue> = { requestId: caller.requestId, correlationId: caller.correlationId };
    if (caller.viaPeer !== undefined) clean.viaPeer = caller.viaPeer;
    for (const [k, v] of Object.entries(data)) if (v !== undefined) clean[k] = v;
    await this.#append({ kind: 'bases', action, actor: caller.principal.id, subject, outcome, data: clean });
  }

  async #append(event: AuditEvent): Promise<void> {
    await this.#o.audit?.append(event);
  }
}

function moveData(m: MoveInfo, doc?: StoredDocument): Record<string, JsonValue | undefined> {
  return {
    baseId: m.baseId,
    documentId: m.documentId,
    fromDeployment: m.fromDeployment,
    toDeployment: m.toDeployment,
    toBase: m.toBase,
    state: m.state,
    requestedBy: m.requestedBy,
    approvedBy: m.approvedBy,
    version: doc?.version,
    sha256: doc?.sha256,
  };
}

/** A document id from a title: lowercase words joined by "-", or the hash prefix when nothing is left. */
function slug(title: string, sha256: string): string {
  const s = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100)
    .replace(/-+$/, '');
  return s === '' ? `doc-${sha256.slice(0, 16)}` : s;
}

function round(x: number): number {
  return Number(x.toPrecision(6));
}
