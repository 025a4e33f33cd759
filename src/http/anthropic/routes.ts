import type { FastifyInstance } from 'fastify';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { createContext, perimeterHeaders } from '../context.js';
import { sendStream } from '../stream.js';
import { parseBody } from '../validate.js';
import { chatRequestFromAnthropic, chatResponseToAnthropic } from './mapper.js';
import { anthropicMessagesRequest } from './schema.js';
import { AnthropicStreamEncoder } from './stream.js';

export function registerAnthropicRoutes(app: FastifyInstance, pipeline: Pipeline): void {
  app.post('/v1/messages', async (request, reply) => {
    const body = parseBody(anthropicMessagesRequest, request.body);
    const ctx = createContext(request, reply, body.metadata?.perimeter_sensitivity);
    const chat = chatRequestFromAnthropic(body);
    if (chat.stream) {
      const stream = await pipeline.chatStream(chat, ctx);
      await sendStream(reply, ctx, stream, new AnthropicStreamEncoder(chat.model));
      return reply;
    }
    const response = await pipeline.chat(chat, ctx);
    return reply.headers(perimeterHeaders(ctx.requestId, ctx)).send(chatResponseToAnthropic(response, chat.model));
  });
}
