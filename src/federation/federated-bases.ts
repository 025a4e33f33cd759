import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import type { JsonValue } from '../domain/json.js';
import { GatewayError } from '../domain/errors.js';
import type {
  BaseSummary,
  BasesApi,
  Caller,
  DeploymentStatus,
  DocumentInfo,
  FullDocument,
  IngestInput,
  IngestResult,
  MoveInfo,
  MovePayload,
  MoveRequestInput,
  MoveTransport,
  SearchHit,
  SearchRequest,
  SearchResponse,
} from './bases/api.js';
import type { LocalBases } from './bases/local-bases.js';
import type { PeerOperation } from './config.js';
import type { FanOutResult, Federation, PeerCall, PeerHandlerResult } from './peers/index.js';

/*
 * Bases across deployments. Local Bases answer here; a peer's Bases are reached over
 * the mTLS transport, as the same end user (their JWT travels with the call and is
 * validated again over there). Peers only ever return metadata and bounded snippets:
 * full documents stay home, and the peer handlers below never serve them.
 */

export interface FederatedBasesOptions {
  readonly deploymentId: string;
  readonly zone: 'on-prem' | 'cloud';
  /** Undefined when no Base is homed here: this deployment then only reaches its peers' Bases. */
  readonly local: LocalBases | undefined;
  /** Ids of the Bases homed here (whether or not a caller may see them). */
  readonly localIds: ReadonlySet<string>;
  readonly transport: PeerMoveTransport;
  readonly federation: Federation;
  /** The level of a search query, from the real classifier; a query is content too. */
  readonly queryLevel: (text: string) => string;
  /** Classification levels, lowest first. */
  readonly levels: readonly string[];
  /** The highest query level sent to a peer in the cloud zone; more sensitive queries stay on-prem. */
  readonly maxQueryLevelToCloud: string;
  /** Every peer's answer must arrive within this, or the peer counts as down for this call. */
  readonly deadlineMs: number;
  /** The longest snippet accepted from a peer; longer ones are cut (a peer is not trusted to bound them). */
  readonly snippetChars: number;
}

const LIMIT_MAX = 50;

const peerBase = z.object({
  id: z.string().min(1).max(200),
  name: z.string().max(500),
  description: z.string().max(2_000).nullish(),
  deploymentId: z.string().min(1).max(200),
  zone: z.enum(['on-prem', 'cloud']),
  level: z.string().min(1).max(100),
  documents: z.number().int().nonnegative(),
});
const peerHit = z.object({
  baseId: z.string().min(1).max(200),
  deploymentId: z.string().min(1).max(200),
  documentId: z.string().min(1).max(200),
  version: z.number().int().positive(),
  title: z.string().max(1_000),
  mediaType: z.string().max(200),
  sha256: z.string().max(128),
  chunkIndex: z.number().int().nonnegative(),
  score: z.number(),
  snippet: z.string(),
  redacted: z.record(z.string(), z.number().int().nonnegative()),
  withheld: z.boolean(),
  level: z.string().min(1).max(100),
});
const listBody = z.object({ bases: z.array(peerBase).max(1_000) });
const searchBody = z.object({ hits: z.array(peerHit).max(LIMIT_MAX) });

/** What a peer may ask: never more than a search's worth, and only our own Bases. */
const inboundSearch = z.strictObject({
  query: z.string().min(1).max(1_000),
  bases: z.array(z.string().min(1).max(200)).max(50).optional(),
  limit: z.number().int().min(1).max(LIMIT_MAX).default(10),
});

const movePayload = z.strictObject({
  moveId: z.string().min(1).max(200),
  fromDeployment: z.string().min(1).max(200),
  base: z.strictObject({ id: z.string().min(1).max(200), sourceId: z.string().min(1).max(200), level: z.string().min(1).max(100) }),
  document: z.strictObject({
    documentId: z.string().min(1).max(200),
    version: z.number().int().positive(),
    sha256: z.string().min(1).max(128),
    title: z.string().max(1_000),
    mediaType: z.string().max(200),
    source: z.string().max(2_000).optional(),
    ingestedAt: z.string().max(100),
    ingestedBy: z.string().max(200),
    text: z.string(),
  }),
  requestedBy: z.string().max(200),
  approvedBy: z.string().max(200),
});

/**
 * Executes approved moves over the peer transport, as the approver: LocalBases calls
 * send() from inside approveMove, and the approver's token rides along in async context.
 */
export class PeerMoveTransport implements MoveTransport {
  readonly #federation: Federation;
  readonly #approver = new AsyncLocalStorage<Caller>();

  constructor(federation: Federation) {
    this.#federation = federation;
  }

  runAs<T>(caller: Caller, fn: () => Promise<T>): Promise<T> {
    return this.#approver.run(caller, fn);
  }

  async send(toDeployment: string, payload: MovePayload): Promise<void> {
    const caller = this.#approver.getStore();
    const result = await this.#federation.client.call(toDeployment, 'bases.move', payload as unknown as JsonValue, {
      token: caller?.token,
      correlationId: caller?.correlationId,
      actor: caller?.principal.id ?? 'system',
    });
    if (!result.ok) throw new GatewayError('peer_error', `The move to ${toDeployment} failed: ${result.code}.`);
  }
}

export class FederatedBases implements BasesApi {
  readonly #o: FederatedBasesOptions;

  constructor(options: FederatedBasesOptions) {
    this.#o = options;
  }

  async list(caller: Caller): Promise<BaseSummary[]> {
    return (await this.listWithStatus(caller)).bases;
  }

  async listWithStatus(caller: Caller): Promise<{ bases: BaseSummary[]; deployments: DeploymentStatus[] }> {
    const local = (await this.#o.local?.list(caller)) ?? [];
    const deployments: DeploymentStatus[] = [{ id: this.#o.deploymentId, status: 'ok' }];
    const bases = [...local];
    for (const r of await this.#fanOut(caller, 'bases.list', {}, deployments)) {
      const parsed = listBody.safeParse(r.result.ok ? r.result.body : undefined);
      if (!parsed.success) {
        deployments.push({ id: r.peer, status: 'error', reason: 'invalid_peer_answer' });
        continue;
      }
      deployments.push({ id: r.peer, status: 'ok' });
      // A peer speaks only for its own Bases.
      for (const b of parsed.data.bases) {
        if (b.deploymentId !== r.peer || this.#o.localIds.has(b.id)) continue;
        bases.push({ ...b, description: b.description ?? undefined, local: false });
      }
    }
    return { bases, deployments };
  }

  async search(caller: Caller, request: SearchRequest): Promise<SearchResponse> {
    const limit = Math.max(1, Math.min(LIMIT_MAX, Math.floor(request.limit)));
    const wanted = request.bases;
    const localWanted = wanted?.filter((b) => this.#o.localIds.has(b));
    const remoteWanted = wanted?.filter((b) => !this.#o.localIds.has(b));
    const deployments: DeploymentStatus[] = [];
    const ranked: SearchHit[][] = [];
    const here = this.#o.local;
    if (here !== undefined && (wanted === undefined || (localWanted !== undefined && localWanted.length > 0))) {
      const local = await here.search(caller, { ...request, limit, ...(localWanted === undefined ? {} : { bases: localWanted }) });
      ranked.push([...local.hits]);
      deployments.push({ id: this.#o.deploymentId, status: 'ok' });
    }
    const operation: PeerOperation = request.purpose === 'retrieve' ? 'bases.retrieve' : 'bases.search';
    // Named Bases that are not here, with no peer to ask: as missing as a hidden one.
    const missing = remoteWanted?.[0];
    if (missing !== undefined && this.#o.federation.client.peersFor(operation).length === 0) throw new GatewayError('base_not_found', `Base "${missing}" was not found.`);
    if (wanted === undefined || (remoteWanted !== undefined && remoteWanted.length > 0)) {
      const body = { query: request.query, limit, ...(remoteWanted === undefined ? {} : { bases: remoteWanted }) };
      const queryRank = this.#rank(this.#o.queryLevel(request.query));
      const cloudRank = this.#rank(this.#o.maxQueryLevelToCloud);
      for (const r of await this.#fanOut(caller, operation, body, deployments, (zone) => zone === 'on-prem' || queryRank <= cloudRank)) {
        const parsed = searchBody.safeParse(r.result.ok ? r.result.body : undefined);
        if (!parsed.success) {
          deployments.push({ id: r.peer, status: 'error', reason: 'invalid_peer_answer' });
          continue;
        }
        deployments.push({ id: r.peer, status: 'ok' });
        ranked.push(
          parsed.data.hits
            .filter((h) => h.deploymentId === r.peer && !this.#o.localIds.has(h.baseId))
            .map((h) => ({ ...h, snippet: h.snippet.slice(0, this.#o.snippetChars) })),
        );
      }
    }
    return { hits: interleave(ranked, limit), deployments };
  }

  ingest(caller: Caller, input: IngestInput): Promise<IngestResult> {
    this.#homedHere(input.baseId);
    return this.#home().ingest(caller, input);
  }

  documents(caller: Caller, baseId: string): Promise<DocumentInfo[]> {
    this.#homedHere(baseId);
    return this.#home().documents(caller, baseId);
  }

  document(caller: Caller, baseId: string, documentId: string): Promise<FullDocument> {
    this.#homedHere(baseId);
    return this.#home().document(caller, baseId, documentId);
  }

  requestMove(caller: Caller, m: MoveRequestInput): Promise<MoveInfo> {
    this.#homedHere(m.baseId);
    return this.#home().requestMove(caller, m);
  }

  approveMove(caller: Caller, moveId: string, approve: boolean): Promise<MoveInfo> {
    const home = this.#home();
    return this.#o.transport.runAs(caller, () => home.approveMove(caller, moveId, approve));
  }

  moves(caller: Caller): Promise<MoveInfo[]> {
    return this.#home().moves(caller);
  }

  /** Handlers for what peers may call on us; registered on the federation listener. */
  peerHandlers(): Partial<Record<PeerOperation, (call: PeerCall) => Promise<PeerHandlerResult>>> {
    const callerOf = (call: PeerCall): Caller => {
      if (call.principal === undefined) throw new GatewayError('authentication_failed', 'This operation runs as an end user: send their token.');
      return { principal: call.principal, requestId: call.correlationId, correlationId: call.correlationId, viaPeer: call.peer.id };
    };
    const search = (purpose: 'search' | 'retrieve') => async (call: PeerCall): Promise<PeerHandlerResult> => {
      const parsed = inboundSearch.safeParse(call.body);
      if (!parsed.success) throw new GatewayError('invalid_request', 'Invalid search body.');
      // Ids that are not ours are dropped, not refused: a fan-out asks every peer about every remote Base.
      const bases = parsed.data.bases?.filter((b) => this.#o.localIds.has(b));
      if (bases !== undefined && bases.length === 0) return { body: { hits: [] }, audit: { hits: 0 } };
      const result = await this.#home().search(callerOf(call), { query: parsed.data.query, limit: parsed.data.limit, purpose, ...(bases === undefined ? {} : { bases }) });
      return { body: { hits: result.hits as unknown as JsonValue }, audit: { hits: result.hits.length, bases: [...new Set(result.hits.map((h) => h.baseId))] } };
    };
    return {
      'bases.list': async (call) => {
        const bases = (await this.#o.local?.list(callerOf(call))) ?? [];
        return { body: { bases: bases as unknown as JsonValue }, audit: { bases: bases.length } };
      },
      'bases.search': search('search'),
      'bases.retrieve': search('retrieve'),
      'bases.move': async (call) => {
        callerOf(call);
        const parsed = movePayload.safeParse(call.body);
        if (!parsed.success) throw new GatewayError('invalid_request', 'Invalid move payload.');
        if (parsed.data.fromDeployment !== call.peer.id) throw new GatewayError('forbidden', 'A move names the deployment that sends it.');
        const { source, ...doc } = parsed.data.document;
        const payload: MovePayload = { ...parsed.data, document: { ...doc, source } };
        const info = await this.#home().receiveMove(call.peer.id, payload);
        return { body: { documentId: info.documentId, version: info.version, sha256: info.sha256 }, audit: { moveId: payload.moveId, base: info.baseId, documentId: info.documentId } };
      },
    };
  }

  #home(): LocalBases {
    if (this.#o.local === undefined) throw new GatewayError('base_not_found', 'No Base is homed in this deployment.');
    return this.#o.local;
  }

  /** A Base not homed here reads exactly like a hidden or missing one: the message must not tell them apart. */
  #homedHere(baseId: string): void {
    if (!this.#o.localIds.has(baseId)) throw new GatewayError('base_not_found', `Base "${baseId}" was not found.`);
  }


  #rank(level: string): number {
    const i = this.#o.levels.indexOf(level);
    return i < 0 ? this.#o.levels.length - 1 : i;
  }

  /**
   * Calls every peer that allows the operation. Peers are reached only as an end user
   * (a JWT): an API key means nothing in another deployment, so those callers see
   * local results with the peers marked skipped.
   */
  async #fanOut(
    caller: Caller,
    operation: PeerOperation,
    body: JsonValue,
    deployments: DeploymentStatus[],
    mayReceive: (zone: 'on-prem' | 'cloud') => boolean = () => true,
  ): Promise<FanOutResult[]> {
    const { directory, client } = this.#o.federation;
    const peers = client.peersFor(operation);
    if (peers.length === 0) return [];
    if (caller.token === undefined) {
      for (const p of peers) deployments.push({ id: p.id, status: 'skipped', reason: 'identity_not_federated' });
      return [];
    }
    const allowed = new Set(peers.filter((p) => mayReceive(p.zone)).map((p) => p.id));
    for (const p of peers) if (!allowed.has(p.id)) deployments.push({ id: p.id, status: 'skipped', reason: 'query_too_sensitive_for_zone' });
    if (allowed.size === 0) return [];
    const results = await directory.fanOut(operation, body, {
      token: caller.token,
      actor: caller.principal.id,
      correlationId: caller.correlationId,
      deadlineMs: this.#o.deadlineMs,
      only: allowed,
    });
    const ok: FanOutResult[] = [];
    for (const r of results) {
      if (r.result.ok) ok.push(r);
      else deployments.push({ id: r.peer, status: r.result.status === 'down' ? 'down' : 'error', reason: r.result.code });
    }
    return ok;
  }
}

/** Scores from different stores do not compare; rank order within each does. Round-robin by rank. */
function interleave(lists: readonly SearchHit[][], limit: number): SearchHit[] {
  const out: SearchHit[] = [];
  for (let i = 0; out.length < limit; i += 1) {
    let any = false;
    for (const list of lists) {
      const hit = list[i];
      if (hit === undefined) continue;
      any = true;
      out.push(hit);
      if (out.length >= limit) break;
    }
    if (!any) break;
  }
  return out;
}
