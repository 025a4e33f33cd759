import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../../domain/errors.js';
import { ANONYMOUS } from '../../domain/principal.js';
import type { BasesApi, Caller } from '../../federation/bases/api.js';
import { federationIdentity, perimeterHeaders, servicesOf } from '../context.js';
import { parseBody } from '../validate.js';

const id = z.string().min(1).max(200);

const searchBody = z.strictObject({
  query: z.string().min(1).max(1000),
  bases: z.array(id).min(1).max(100).optional(),
  limit: z.number().int().min(1).max(50).default(10),
  purpose: z.enum(['search', 'retrieve']).default('search'),
  maxSnippetLevel: z.string().min(1).max(64).optional(),
});

const ingestBody = z
  .strictObject({
    documentId: id.optional(),
    title: z.string().min(1).max(500),
    mediaType: z.string().min(1).max(200),
    text: z.string().optional(),
    /** The raw bytes (a PDF), base64. */
    contentBase64: z
      .string()
      .transform((s) => s.replace(/\s+/g, ''))
      .refine((s) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0, { message: 'must be base64' })
      .optional(),
    source: z.string().min(1).max(1000).optional(),
  })
  .refine((b) => (b.text === undefined) !== (b.contentBase64 === undefined), { message: 'give exactly one of text or contentBase64', path: ['text'] });

const moveBody = z.strictObject({
  baseId: id,
  documentId: id,
  toDeployment: id,
  toBase: id.optional(),
});

const params = z.object({ base: id.optional(), doc: id.optional(), id: id.optional() });

/** /v1/bases: knowledge Bases. Bodies are parsed here; everything below sees only the BasesApi types. */
export function registerBasesRoutes(app: FastifyInstance): void {
  app.get('/v1/bases', async (request, reply) => {
    const bases = servicesOf(request).bases;
    const result = bases === undefined ? { bases: [], deployments: [] } : await bases.listWithStatus(callerOf(request));
    return reply.headers(perimeterHeaders(request.id, null)).send({ object: 'list', data: result.bases, deployments: result.deployments });
  });

  app.post('/v1/bases/search', async (request, reply) => {
    const body = parseBody(searchBody, request.body);
    const result = await need(request, body.bases?.[0]).search(callerOf(request), body);
    return reply.headers(perimeterHeaders(request.id, null)).send(result);
  });

  app.post('/v1/bases/:base/documents', async (request, reply) => {
    const { base } = parseParams(request);
    const body = parseBody(ingestBody, request.body);
    const result = await need(request, base).ingest(callerOf(request), {
      baseId: base ?? '',
      documentId: body.documentId,
      title: body.title,
      mediaType: body.mediaType,
      text: body.text,
      content: body.contentBase64 === undefined ? undefined : new Uint8Array(Buffer.from(body.contentBase64, 'base64')),
      source: body.source,
    });
    return reply
      .status(result.status === 'unchanged' ? 200 : 201)
      .headers(perimeterHeaders(request.id, null))
      .send(result);
  });

  app.get('/v1/bases/:base/documents', async (request, reply) => {
    const { base } = parseParams(request);
    const data = await need(request, base).documents(callerOf(request), base ?? '');
    return reply.headers(perimeterHeaders(request.id, null)).send({ object: 'list', data });
  });

  app.get('/v1/bases/:base/documents/:doc', async (request, reply) => {
    const { base, doc } = parseParams(request);
    const result = await need(request, base).document(callerOf(request), base ?? '', doc ?? '');
    return reply.headers(perimeterHeaders(request.id, null)).send(result);
  });

  app.get('/v1/bases/moves', async (request, reply) => {
    const bases = servicesOf(request).bases;
    const data = bases === undefined ? [] : await bases.moves(callerOf(request));
    return reply.headers(perimeterHeaders(request.id, null)).send({ object: 'list', data });
  });

  app.post('/v1/bases/moves', async (request, reply) => {
    const body = parseBody(moveBody, request.body);
    const move = await need(request, body.baseId).requestMove(callerOf(request), body);
    return reply.status(201).headers(perimeterHeaders(request.id, null)).send(move);
  });

  for (const verb of ['approve', 'reject'] as const) {
    app.post(`/v1/bases/moves/:id/${verb}`, async (request, reply) => {
      const { id: moveId } = parseParams(request);
      const bases = servicesOf(request).bases;
      if (bases === undefined) throw new GatewayError('move_not_found', 'No such move.');
      const move = await bases.approveMove(callerOf(request), moveId ?? '', verb === 'approve');
      return reply.headers(perimeterHeaders(request.id, null)).send(move);
    });
  }
}

function parseParams(request: FastifyRequest): z.output<typeof params> {
  const result = params.safeParse(request.params);
  if (!result.success) throw new GatewayError('invalid_request', 'Invalid path.');
  return result.data;
}

/** The Bases service; without one, every Base is unknown (as a hidden one would be). */
function need(request: FastifyRequest, baseId: string | undefined): BasesApi {
  const bases = servicesOf(request).bases;
  if (bases === undefined) throw new GatewayError('base_not_found', `Base "${baseId ?? ''}" was not found.`);
  return bases;
}

function callerOf(request: FastifyRequest): Caller {
  const { token, correlationId } = federationIdentity(request);
  return { principal: request.principal ?? ANONYMOUS, requestId: request.id, correlationId, ...(token === undefined ? {} : { token }) };
}
