import type { Chunk, FinishReason, Usage } from '../../domain/chat.js';
import type { GatewayError } from '../../domain/errors.js';
import { anthropicErrorBody } from '../errors.js';
import { sseEvent, type StreamEncoder } from '../sse.js';
import { anthropicId, STOP_REASON } from './mapper.js';

/**
 * Messages streaming events. Internal chunks carry no block boundaries, so this
 * opens a block on the first delta of a kind and closes it when the kind changes.
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  readonly #model: string;
  #blockIndex = -1;
  #blockOpen = false;
  #finish: FinishReason = 'stop';
  #usage: Usage = { inputTokens: 0, outputTokens: 0 };
  #openKind: 'text' | 'tool' | undefined;

  constructor(model: string) {
    this.#model = model;
  }

  chunk(chunk: Chunk): string {
    switch (chunk.type) {
      case 'start':
        return (
          sseEvent('message_start', {
            type: 'message_start',
            message: {
              id: anthropicId(chunk.id),
              type: 'message',
              role: 'assistant',
              model: this.#model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 0, output_tokens: 0 },
            },
          }) + sseEvent('ping', { type: 'ping' })
        );
      case 'text': {
        const open = this.#openKind === 'text' ? '' : this.#open('text', { type: 'text', text: '' });
        // Built by hand: text deltas are most of a stream, and the frame is fixed but for the text.
        return `${open}event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.#blockIndex},"delta":{"type":"text_delta","text":${JSON.stringify(chunk.text)}}}\n\n`;
      }
      case 'tool_call_start':
        return this.#open('tool', { type: 'tool_use', id: chunk.id, name: chunk.name, input: {} });
      case 'tool_call_delta':
        if (this.#openKind !== 'tool') return '';
        return sseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: this.#blockIndex,
          delta: { type: 'input_json_delta', partial_json: chunk.arguments },
        });
      case 'finish':
        this.#finish = chunk.reason;
        return '';
      case 'usage':
        this.#usage = chunk.usage;
        return '';
    }
  }

  end(): string {
    return (
      this.#close() +
      sseEvent('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: STOP_REASON[this.#finish], stop_sequence: null },
        usage: { input_tokens: this.#usage.inputTokens, output_tokens: this.#usage.outputTokens },
      }) +
      sseEvent('message_stop', { type: 'message_stop' })
    );
  }

  error(error: GatewayError): string {
    return sseEvent('error', anthropicErrorBody(error));
  }

  #open(kind: 'text' | 'tool', block: object): string {
    const closed = this.#close();
    this.#blockIndex += 1;
    this.#blockOpen = true;
    this.#openKind = kind;
    return closed + sseEvent('content_block_start', { type: 'content_block_start', index: this.#blockIndex, content_block: block });
  }

  #close(): string {
    if (!this.#blockOpen) return '';
    this.#blockOpen = false;
    this.#openKind = undefined;
    return sseEvent('content_block_stop', { type: 'content_block_stop', index: this.#blockIndex });
  }
}
