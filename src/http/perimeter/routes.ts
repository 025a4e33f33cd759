import type { FastifyInstance } from 'fastify';
import { createContext, perimeterHeaders, servicesOf } from '../context.js';
import { chatRequestFromOpenAI } from '../openai/mapper.js';
import { openAIChatRequest } from '../openai/schema.js';
import { parseBody } from '../validate.js';
import { classifyWire } from './classify.js';

/** Perimeter's own endpoints under /v1/perimeter. They never call a backend. */
export function registerPerimeterRoutes(app: FastifyInstance): void {
  app.post('/v1/perimeter/classify', async (request, reply) => {
    const { pipeline } = servicesOf(request);
    const ctx = createContext(request, reply);
    const result = classifyWire(pipeline.classifyStep, request.body, ctx.callerLabels);
    return reply.headers({ ...perimeterHeaders(ctx.requestId, ctx), 'x-perimeter-sensitivity': result.level }).send(result);
  });

  // The same body as /v1/chat/completions; the same code as serving, minus the backend call.
  app.post('/v1/perimeter/explain', async (request, reply) => {
    const { pipeline } = servicesOf(request);
    const body = parseBody(openAIChatRequest, request.body);
    const ctx = createContext(request, reply, body.metadata?.perimeter_sensitivity);
    const explanation = await pipeline.explainChat(chatRequestFromOpenAI(body), ctx);
    return reply.headers(perimeterHeaders(ctx.requestId, ctx)).send(explanation);
  });
}
