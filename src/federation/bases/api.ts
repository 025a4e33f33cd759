import type { Principal } from '../../domain/principal.js';
import type { StoredDocument } from './store.js';

/*
 * The transport-neutral Bases interface. The HTTP routes call it; LocalBases
 * implements it for this deployment; the federated wrapper implements the same
 * interface on top of LocalBases and the peers.
 */

export interface Caller {
  readonly principal: Principal;
  readonly requestId: string;
  readonly correlationId: string;
  /** Raw bearer token, forwarded to peers by the federated wrapper. */
  readonly token?: string | undefined;
  /** The deployment id of a peer when the call arrives over federation. */
  readonly viaPeer?: string | undefined;
}

export interface BaseSummary {
  readonly id: string;
  readonly name: string;
  readonly description: string | undefined;
  /** The Base's home deployment. */
  readonly deploymentId: string;
  readonly zone: 'on-prem' | 'cloud';
  readonly level: string;
  readonly documents: number;
  /** Whether the Base lives in the deployment that answered. */
  readonly local: boolean;
}

export type SearchPurpose = 'search' | 'retrieve';

export interface SearchRequest {
  readonly query: string;
  /** Base ids; absent = every Base the caller can read. */
  readonly bases?: readonly string[] | undefined;
  /** At most 50. */
  readonly limit: number;
  readonly purpose: SearchPurpose;
  /**
   * Findings above this level are masked in snippets. It can only lower the
   * deployment's configured snippet level, never raise it.
   */
  readonly maxSnippetLevel?: string | undefined;
}

export interface SearchHit {
  readonly baseId: string;
  readonly deploymentId: string;
  readonly documentId: string;
  readonly version: number;
  readonly title: string;
  readonly mediaType: string;
  readonly sha256: string;
  readonly chunkIndex: number;
  /** Higher is better; comparable within one response only. */
  readonly score: number;
  /** At most `snippetChars`; masked findings read `[TYPE]`. Empty when withheld. */
  readonly snippet: string;
  /** Masked findings per entity type. */
  readonly redacted: Readonly<Record<string, number>>;
  /** True when the snippet stayed above the allowed level after masking and was left out. */
  readonly withheld: boolean;
  /** The Base's level. */
  readonly level: string;
}

export interface DeploymentStatus {
  readonly id: string;
  readonly status: 'ok' | 'down' | 'skipped' | 'error';
  readonly reason?: string;
}

export interface SearchResponse {
  readonly hits: readonly SearchHit[];
  readonly deployments: readonly DeploymentStatus[];
}

export interface IngestInput {
  readonly baseId: string;
  /** Defaults to a slug of the title. Re-ingesting an id with new content makes a new version. */
  readonly documentId?: string | undefined;
  readonly title: string;
  readonly mediaType: string;
  /** The raw document; exactly one of text or content. */
  readonly text?: string | undefined;
  readonly content?: Uint8Array | undefined;
  /** Where it came from (a file name, a URL); provenance only. */
  readonly source?: string | undefined;
}

/** Provenance of one document version: what the store keeps, and the deployment that holds it. */
export interface DocumentInfo extends StoredDocument {
  readonly deploymentId: string;
}

export interface IngestResult extends DocumentInfo {
  /** created: a new document; updated: a new version; unchanged: same bytes as the current version. */
  readonly status: 'created' | 'updated' | 'unchanged';
}

export interface FullDocument extends DocumentInfo {
  readonly text: string;
}

export interface MoveRequestInput {
  readonly baseId: string;
  readonly documentId: string;
  readonly toDeployment: string;
  /** The Base in the destination deployment; defaults to the same id. */
  readonly toBase?: string | undefined;
}

export type MoveState = 'requested' | 'approved' | 'rejected' | 'completed' | 'failed';

export interface MoveInfo {
  readonly id: string;
  readonly baseId: string;
  readonly documentId: string;
  readonly fromDeployment: string;
  readonly toDeployment: string;
  readonly toBase: string;
  readonly state: MoveState;
  readonly requestedBy: string;
  readonly approvedBy: string | undefined;
  readonly requestedAt: string;
  readonly decidedAt: string | undefined;
  readonly completedAt: string | undefined;
  /** An error code when the move failed; never a message from the transport. */
  readonly failure: string | undefined;
}

export interface BasesApi {
  list(caller: Caller): Promise<BaseSummary[]>;
  /** The list with each deployment's answer: peers that are down or skipped are named, not hidden. */
  listWithStatus(caller: Caller): Promise<{ bases: BaseSummary[]; deployments: DeploymentStatus[] }>;
  search(caller: Caller, request: SearchRequest): Promise<SearchResponse>;
  ingest(caller: Caller, input: IngestInput): Promise<IngestResult>;
  documents(caller: Caller, baseId: string): Promise<DocumentInfo[]>;
  /** Text and provenance; served only in the document's home deployment. */
  document(caller: Caller, baseId: string, documentId: string): Promise<FullDocument>;
  requestMove(caller: Caller, m: MoveRequestInput): Promise<MoveInfo>;
  approveMove(caller: Caller, moveId: string, approve: boolean): Promise<MoveInfo>;
  moves(caller: Caller): Promise<MoveInfo[]>;
}

/** What travels to the destination deployment when an approved move executes. */
export interface MovePayload {
  readonly moveId: string;
  readonly fromDeployment: string;
  /** The destination Base, and the source Base's id and level (the destination must be at least as high). */
  readonly base: { readonly id: string; readonly sourceId: string; readonly level: string };
  /** The document's provenance as stored at home, and its text. */
  readonly document: Pick<StoredDocument, 'documentId' | 'version' | 'sha256' | 'title' | 'mediaType' | 'source' | 'ingestedAt' | 'ingestedBy'> & { readonly text: string };
  readonly requestedBy: string;
  readonly approvedBy: string;
}

/** The federation transport a move uses; the lead provides the mTLS one. */
export interface MoveTransport {
  /** Resolves once the destination has stored the document; rejects otherwise. */
  send(toDeployment: string, payload: MovePayload): Promise<void>;
}
