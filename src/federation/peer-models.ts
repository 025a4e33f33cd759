import { z } from 'zod';
import type { Principal } from '../domain/principal.js';
import type { Federation } from './peers/index.js';

/** A model a peer deployment serves to this user, as its catalogue lists it. Metadata only. */
export interface PeerModel {
  readonly deploymentId: string;
  readonly id: string;
  readonly kind: 'chat' | 'embedding';
  readonly capability: string;
  readonly tier: string;
  readonly region: string;
  readonly contextWindow: number;
}

const peerModels = z.object({
  models: z
    .array(
      z.object({
        id: z.string().min(1).max(200),
        kind: z.enum(['chat', 'embedding']),
        capability: z.string().min(1).max(50),
        tier: z.string().min(1).max(50),
        region: z.string().min(1).max(100),
        contextWindow: z.number().int().positive(),
      }),
    )
    .max(10_000),
});

/**
 * The peers' catalogues for one user: each peer filters by what the user may see over
 * there (it validates the same token). Peers that are down or refuse are left out; the
 * local catalogue never waits longer than the deadline.
 */
export async function fetchPeerModels(
  federation: Federation,
  who: { principal: Principal; token: string | undefined; correlationId: string },
  deadlineMs: number,
): Promise<PeerModel[]> {
  if (who.token === undefined || federation.client.peersFor('models').length === 0) return [];
  const results = await federation.directory.fanOut('models', {}, { token: who.token, actor: who.principal.id, correlationId: who.correlationId, deadlineMs });
  const out: PeerModel[] = [];
  for (const r of results) {
    if (!r.result.ok) continue;
    const parsed = peerModels.safeParse(r.result.body);
    if (!parsed.success) continue;
    for (const m of parsed.data.models) out.push({ ...m, deploymentId: r.peer });
  }
  return out;
}
