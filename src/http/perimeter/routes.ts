import type { FastifyInstance } from 'fastify';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { createContext, perimeterHeaders } from '../context.js';
import { classifyWire } from './classify.js';

/** Perimeter's own endpoints under /v1/perimeter. They never call a backend. */
export function registerPerimeterRoutes(app: FastifyInstance, pipeline: Pipeline): void {
  app.post('/v1/perimeter/classify', async (request, reply) => {
    const ctx = createContext(request, reply);
    const result = classifyWire(pipeline.classifyStep, request.body, ctx.callerLabels);
    return reply.headers({ ...perimeterHeaders(ctx.requestId, ctx), 'x-perimeter-sensitivity': result.level }).send(result);
  });
}
