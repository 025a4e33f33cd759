export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port, so parallel test files never collide. */
  port?: number;
  /** Label such as 'on-prem'; echoed in the x-sim-name response header so tests can tell backends apart. */
  name?: string;
  /** Models served for chat; undefined accepts any model name. */
  chatModels?: string[];
  /** Models served for embeddings; undefined accepts any model name. */
  embeddingModels?: string[];
  /** When set, requests must present it (Authorization: Bearer, x-api-key or api-key). */
  apiKey?: string;
  /** Delay before response headers. */
  latencyMs?: number;
  /** Extra delay before the first streamed chunk. */
  ttftMs?: number;
  /** Pacing of streamed pieces; 0 or undefined sends them as fast as possible. */
  tokensPerSecond?: number;
  /** 0..1 fraction of protocol requests answered with errorStatus, spread deterministically. */
  errorRate?: number;
  /** Default 500. */
  errorStatus?: number;
  /** Record received requests (default true); benchmarks turn it off. */
  record?: boolean;
  /** Bound on the recording buffer (default 10000); the oldest entries are dropped. */
  maxRecorded?: number;
}

export interface ReceivedRequest {
  /** Monotonic per simulator; not reset by clear(), so tests can tell old entries from new. */
  seq: number;
  /** ISO-8601 receipt time. */
  time: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lowercased names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Parsed JSON, or null when the body was empty or not JSON. */
  body: unknown;
  /** The response was fully written. */
  completed: boolean;
  /** The peer closed the connection before the response finished. */
  aborted: boolean;
}

export interface SimulatorHandle {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123. */
  url: string;
  port: number;
  name: string;
  /** Snapshot copies, oldest first. */
  received(): ReceivedRequest[];
  clear(): void;
  /** Stops listening and severs open connections, including stalled streams. */
  close(): Promise<void>;
}
