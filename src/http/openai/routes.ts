import type { FastifyInstance } from 'fastify';
import { finishRecord, recordInfo } from '../records.js';
import { createContext, perimeterHeaders, servicesOf } from '../context.js';
import { sendStream } from '../stream.js';
import { parseBody } from '../validate.js';
import { SENSITIVITY_METADATA, chatRequestFromOpenAI, chatResponseToOpenAI, embeddingRequestFromOpenAI, embeddingResponseToOpenAI } from './mapper.js';
import { openAIChatRequest, openAIEmbeddingRequest } from './schema.js';
import { OpenAIStreamEncoder } from './stream.js';

export function registerOpenAIRoutes(app: FastifyInstance): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const { pipeline, records } = servicesOf(request);
    const body = parseBody(openAIChatRequest, request.body);
    const ctx = createContext(request, reply, body.metadata?.[SENSITIVITY_METADATA]);
    const chat = chatRequestFromOpenAI(body);
    const info = recordInfo(request);
    if (info !== undefined) Object.assign(info, { stream: chat.stream, requestedModel: chat.model, chat });
    if (chat.stream) {
      const stream = await pipeline.chatStream(chat, ctx);
      await sendStream(reply, ctx, stream, new OpenAIStreamEncoder(chat.model, chat.includeUsage), info);
      finishRecord(records, request);
      return reply;
    }
    const response = await pipeline.chat(chat, ctx);
    if (info !== undefined) Object.assign(info, { usage: response.usage, outputText: response.content });
    return reply.headers(perimeterHeaders(ctx.requestId, ctx)).send(chatResponseToOpenAI(response, chat.model));
  });

  app.post('/v1/embeddings', async (request, reply) => {
    const { pipeline, records } = servicesOf(request);
    const body = parseBody(openAIEmbeddingRequest, request.body);
    const ctx = createContext(request, reply);
    const embedding = embeddingRequestFromOpenAI(body);
    const info = recordInfo(request);
    if (info !== undefined) Object.assign(info, { requestedModel: body.model, embedding });
    const response = await pipeline.embed(embedding, ctx);
    if (info !== undefined) info.usage = response.usage;
    return reply
      .headers(perimeterHeaders(ctx.requestId, ctx))
      .send(embeddingResponseToOpenAI(response, body.model, body.encoding_format ?? 'float'));
  });
}
