import type { FastifyInstance } from 'fastify';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { createContext, perimeterHeaders } from '../context.js';
import { sendStream } from '../stream.js';
import { parseBody } from '../validate.js';
import { SENSITIVITY_METADATA, chatRequestFromOpenAI, chatResponseToOpenAI, embeddingRequestFromOpenAI, embeddingResponseToOpenAI } from './mapper.js';
import { openAIChatRequest, openAIEmbeddingRequest } from './schema.js';
import { OpenAIStreamEncoder } from './stream.js';

export function registerOpenAIRoutes(app: FastifyInstance, pipeline: Pipeline): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(openAIChatRequest, request.body);
    const ctx = createContext(request, reply, body.metadata?.[SENSITIVITY_METADATA]);
    const chat = chatRequestFromOpenAI(body);
    if (chat.stream) {
      const stream = await pipeline.chatStream(chat, ctx);
      await sendStream(reply, ctx, stream, new OpenAIStreamEncoder(chat.model, chat.includeUsage));
      return reply;
    }
    const response = await pipeline.chat(chat, ctx);
    return reply.headers(perimeterHeaders(ctx.requestId, ctx)).send(chatResponseToOpenAI(response, chat.model));
  });

  app.post('/v1/embeddings', async (request, reply) => {
    const body = parseBody(openAIEmbeddingRequest, request.body);
    const ctx = createContext(request, reply);
    const response = await pipeline.embed(embeddingRequestFromOpenAI(body), ctx);
    return reply
      .headers(perimeterHeaders(ctx.requestId, ctx))
      .send(embeddingResponseToOpenAI(response, body.model, body.encoding_format ?? 'float'));
  });
}
