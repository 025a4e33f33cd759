import type { ChatRequest, EmbeddingRequest, Usage } from '../domain/chat.js';
import type { RequestContext } from '../pipeline/context.js';
import { recordFromContext, type RecordDeps, type RequestOutcome } from './decision-record.js';
import type { Recorder } from './recorder.js';
import type { TokenEstimator } from './tokens.js';

/** What the request carried, for a token estimate when the upstream reported no usage. */
export interface RecordedExchange {
  readonly chat?: ChatRequest | undefined;
  readonly embedding?: EmbeddingRequest | undefined;
  /** The answer's text, when it is known (non-streamed answers). */
  readonly outputText?: string | null | undefined;
}

/**
 * One decision record per request: built from the request context and its outcome,
 * and handed to the recorder's bounded queue, so nothing here waits on a store.
 */
export class RequestRecords {
  readonly #recorder: Recorder;
  readonly #deps: RecordDeps;
  readonly #estimator: TokenEstimator;

  constructor(recorder: Recorder, deps: RecordDeps, estimator: TokenEstimator) {
    this.#recorder = recorder;
    this.#deps = deps;
    this.#estimator = estimator;
  }

  finish(ctx: RequestContext, outcome: RequestOutcome, exchange: RecordedExchange = {}): void {
    let usage: Usage | undefined = outcome.usage;
    // A request refused before any backend answered used no tokens; only served ones are estimated.
    if (usage === undefined && outcome.error === undefined) {
      if (exchange.chat !== undefined) usage = this.#estimator.chat(exchange.chat, exchange.outputText ?? null);
      else if (exchange.embedding !== undefined) usage = this.#estimator.embedding(exchange.embedding);
    }
    const record = recordFromContext(ctx, { ...outcome, usage, pseudonymized: ctx.pseudonymized }, this.#deps);
    ctx.trace?.end(record);
    this.#recorder.record(record);
  }
}
