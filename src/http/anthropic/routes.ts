import type { FastifyInstance } from 'fastify';
import { finishRecord, recordInfo } from '../records.js';
import { createContext, perimeterHeaders, servicesOf } from '../context.js';
import { sendStream } from '../stream.js';
import { parseBody } from '../validate.js';
import { chatRequestFromAnthropic, chatResponseToAnthropic } from './mapper.js';
import { anthropicMessagesRequest } from './schema.js';
import { AnthropicStreamEncoder } from './stream.js';

export function registerAnthropicRoutes(app: FastifyInstance): void {
  app.post('/v1/messages', async (request, reply) => {
    const { pipeline, records } = servicesOf(request);
    const body = parseBody(anthropicMessagesRequest, request.body);
    const ctx = createContext(request, reply, body.metadata?.perimeter_sensitivity);
    const chat = chatRequestFromAnthropic(body);
    const info = recordInfo(request);
    if (info !== undefined) Object.assign(info, { stream: chat.stream, requestedModel: chat.model, chat });
    if (chat.stream) {
      const stream = await pipeline.chatStream(chat, ctx);
      await sendStream(reply, ctx, stream, new AnthropicStreamEncoder(chat.model), info);
      finishRecord(records, request);
      return reply;
    }
    const response = await pipeline.chat(chat, ctx);
    if (info !== undefined) Object.assign(info, { usage: response.usage, outputText: response.content });
    return reply.headers(perimeterHeaders(ctx.requestId, ctx)).send(chatResponseToAnthropic(response, chat.model));
  });
}
