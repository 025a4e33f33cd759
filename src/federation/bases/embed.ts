import { performance } from 'node:perf_hooks';
import type { EmbeddingResponse } from '../../domain/chat.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { newRequestContext } from '../../pipeline/context.js';
import type { RequestRecords } from '../../record/request-records.js';
import type { EmbedFn } from './local-bases.js';

/** Longest an embedding call for a Base may take before it is abandoned. */
const EMBED_TIMEOUT_MS = 120_000;

/**
 * Embeddings through the gateway's own pipeline: classified, policy-checked and
 * routed like any /v1/embeddings request, as the calling principal, with the
 * Base's level as a caller label (labels only raise), and one decision record per
 * call so residency reports include them.
 */
export function embedThroughGateway(pipeline: Pipeline, records: RequestRecords, model: string): EmbedFn {
  let n = 0;
  return async (texts, context) => {
    const request = { model, input: [...texts] };
    const ctx = newRequestContext({
      requestId: `${context.requestId}:embed:${++n}`,
      signal: AbortSignal.timeout(EMBED_TIMEOUT_MS),
      receivedAt: performance.now(),
      principal: context.principal,
      callerLabels: context.level === undefined ? [] : [context.level],
    });
    let response: EmbeddingResponse | undefined;
    let error: unknown;
    try {
      response = await pipeline.embed(request, ctx);
    } catch (err) {
      error = err;
      throw err;
    } finally {
      records.finish(ctx, { operation: 'embedding', stream: false, requestedModel: model, error, usage: response?.usage, endedAt: performance.now() }, { embedding: request });
    }
    return response.vectors.map((v) => Float32Array.from(v));
  };
}
