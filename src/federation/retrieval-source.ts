import { GatewayError } from '../domain/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import type { RetrievalQuery, RetrievalSource, RetrievedChunk } from '../pipeline/retrieve.js';
import type { FederatedBases } from './federated-bases.js';

/**
 * Retrieval for RAG through the Bases service: each Base is searched in its home
 * deployment (purpose `retrieve`, which a Base must grant a peer explicitly), and only
 * bounded snippets come back. A peer that cannot answer, or cannot be asked, fails the
 * request: generating without the context the caller asked for would be a silent downgrade.
 */
export function basesRetrievalSource(
  bases: () => FederatedBases,
  deployment: { readonly id: string; readonly zone: 'on-prem' | 'cloud' },
  peerZone: (deploymentId: string) => 'on-prem' | 'cloud' | undefined,
): RetrievalSource {
  return {
    async retrieve(ctx: RequestContext, query: RetrievalQuery): Promise<readonly RetrievedChunk[]> {
      const { token, correlationId } = ctx.federation();
      const result = await bases().search(
        { principal: ctx.principal, requestId: ctx.requestId, correlationId, ...(token === undefined ? {} : { token }) },
        { query: query.query, bases: query.bases, limit: query.limit, purpose: 'retrieve' },
      );
      // Any deployment not asked or not answering may hold a named Base: answering without it would be a silent downgrade.
      const failed = result.deployments.filter((d) => d.status !== 'ok');
      if (failed.some((d) => d.reason === 'identity_not_federated')) {
        throw new GatewayError('forbidden', 'Retrieval from another deployment\'s Bases runs as the end user: call with an SSO token (API keys are not forwarded).');
      }
      if (failed.length > 0) {
        throw new GatewayError('peer_unavailable', `Retrieval could not use deployment(s) ${failed.map((d) => `${d.id} (${d.reason ?? d.status})`).join(', ')}.`);
      }
      const chunks: RetrievedChunk[] = [];
      for (const hit of result.hits) {
        if (hit.withheld || hit.snippet === '') continue;
        // A hit from a deployment we cannot place is treated as on-prem: the stricter residency.
        const zone = hit.deploymentId === deployment.id ? deployment.zone : (peerZone(hit.deploymentId) ?? 'on-prem');
        chunks.push({ baseId: hit.baseId, deploymentId: hit.deploymentId, zone, level: hit.level, documentId: hit.documentId, version: hit.version, title: hit.title, text: hit.snippet });
      }
      return chunks;
    },
  };
}
