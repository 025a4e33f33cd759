import { z } from 'zod';
import type { RetrievalRequest } from '../domain/chat.js';

/**
 * The `perimeter` extension object both chat protocols accept in the body: Bases to
 * retrieve from before generation. The gateway consumes it; backends never see it.
 */
export const perimeterExtension = z.strictObject({
  bases: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be a Base id' })).min(1).max(8),
  query: z.string().min(1).max(2_000).optional(),
  limit: z.number().int().min(1).max(20).optional(),
});

export type PerimeterExtension = z.infer<typeof perimeterExtension>;

export function retrievalFrom(extension: PerimeterExtension): RetrievalRequest {
  return {
    bases: extension.bases,
    ...(extension.query === undefined ? {} : { query: extension.query }),
    ...(extension.limit === undefined ? {} : { limit: extension.limit }),
  };
}
