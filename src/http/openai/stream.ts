import type { Chunk, FinishReason } from '../../domain/chat.js';
import type { GatewayError } from '../../domain/errors.js';
import { sseData, type StreamEncoder } from '../sse.js';
import { openAIErrorBody } from '../errors.js';
import { openAIUsage } from './mapper.js';

/** Chat Completions chunk stream, as the openai SDK parses it. */
export class OpenAIStreamEncoder implements StreamEncoder {
  #id = '';
  #created = 0;
  /** The frame up to the delta, fixed for the whole stream; text deltas are the hot path. */
  #prefix = '';
  readonly #model: string;
  readonly #includeUsage: boolean;

  constructor(model: string, includeUsage: boolean) {
    this.#model = model;
    this.#includeUsage = includeUsage;
  }

  chunk(chunk: Chunk): string {
    switch (chunk.type) {
      case 'start':
        this.#id = chunk.id;
        this.#created = chunk.created;
        this.#prefix = `data: {"id":${JSON.stringify(chunk.id)},"object":"chat.completion.chunk","created":${chunk.created},"model":${JSON.stringify(this.#model)},"choices":[{"index":0,"delta":`;
        return this.#frame({ role: 'assistant', content: '' }, null);
      case 'text':
        return `${this.#prefix}{"content":${JSON.stringify(chunk.text)}},"logprobs":null,"finish_reason":null}]}\n\n`;
      case 'tool_call_start':
        return this.#frame(
          { tool_calls: [{ index: chunk.index, id: chunk.id, type: 'function', function: { name: chunk.name, arguments: '' } }] },
          null,
        );
      case 'tool_call_delta':
        return this.#frame({ tool_calls: [{ index: chunk.index, function: { arguments: chunk.arguments } }] }, null);
      case 'finish':
        return this.#frame({}, chunk.reason);
      case 'usage':
        if (!this.#includeUsage) return '';
        return sseData({
          id: this.#id,
          object: 'chat.completion.chunk',
          created: this.#created,
          model: this.#model,
          choices: [],
          usage: openAIUsage(chunk.usage),
        });
    }
  }

  end(): string {
    return 'data: [DONE]\n\n';
  }

  error(error: GatewayError): string {
    return sseData(openAIErrorBody(error));
  }

  #frame(delta: object, finishReason: FinishReason | null): string {
    return `${this.#prefix}${JSON.stringify(delta)},"logprobs":null,"finish_reason":${finishReason === null ? 'null' : JSON.stringify(finishReason)}}]}\n\n`;
  }
}
