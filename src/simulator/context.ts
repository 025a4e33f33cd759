import type { IdSource } from './ids.js';

/** Per-simulator settings resolved once at start, read by every handler. */
export interface SimContext {
  readonly name: string;
  readonly chatModels: ReadonlySet<string> | undefined;
  readonly embeddingModels: ReadonlySet<string> | undefined;
  readonly latencyMs: number;
  readonly ttftMs: number;
  readonly tokensPerSecond: number;
  readonly ids: IdSource;
}
