import type { ChatResponse, Chunk, FinishReason, ToolCall, Usage } from '../../domain/chat.js';
import { GatewayError } from '../../domain/errors.js';
import { clip, malformed } from '../http-client.js';
import type { StreamMapper } from '../sse-stream.js';
import { type WireObject, arrayAt, isObject, numberAt, objectAt, parseJson, stringAt } from '../wire-json.js';

export function mapAnthropicStop(reason: string): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn: the model ended its turn.
      return 'stop';
  }
}

/**
 * Anthropic reports cached prompt tokens apart from input_tokens; they are added
 * back so inputTokens means "prompt tokens" for every protocol, as OpenAI's does.
 */
function inputTokensOf(usage: WireObject): number | undefined {
  const input = numberAt(usage, 'input_tokens');
  if (input === undefined) return undefined;
  return input + (numberAt(usage, 'cache_creation_input_tokens') ?? 0) + (numberAt(usage, 'cache_read_input_tokens') ?? 0);
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

export function fromAnthropicMessage(json: unknown, upstreamModel: string): ChatResponse {
  if (!isObject(json)) throw malformed('expected a JSON object');
  const blocks = arrayAt(json, 'content');
  if (blocks === undefined) {
    const error = objectAt(json, 'error');
    if (error !== undefined) throw errorEvent(error);
    throw malformed('no content');
  }
  let content: string | null = null;
  const toolCalls: ToolCall[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    const type = stringAt(block, 'type');
    if (type === 'text') {
      const text = stringAt(block, 'text') ?? '';
      content = content === null ? text : content + text;
    } else if (type === 'tool_use') {
      const input = block['input'];
      toolCalls.push({
        id: stringAt(block, 'id') ?? '',
        name: stringAt(block, 'name') ?? '',
        arguments: input === undefined ? '{}' : JSON.stringify(input),
      });
    }
    // Thinking and server-tool blocks have no place in the internal model.
  }
  const usage = objectAt(json, 'usage');
  const reason = stringAt(json, 'stop_reason');
  return {
    id: stringAt(json, 'id') ?? '',
    model: stringAt(json, 'model') ?? upstreamModel,
    // The Messages API has no timestamp; the time of the answer is the closest thing.
    created: now(),
    content,
    toolCalls,
    finishReason: reason === undefined ? (toolCalls.length > 0 ? 'tool_calls' : 'stop') : mapAnthropicStop(reason),
    usage:
      usage === undefined
        ? undefined
        : { inputTokens: inputTokensOf(usage) ?? 0, outputTokens: numberAt(usage, 'output_tokens') ?? 0 },
  };
}

/** `event: error` mid-stream, or an error object in a 2xx body. Overload is the usual cause and passes. */
function errorEvent(error: WireObject | undefined): GatewayError {
  const type = error === undefined ? undefined : stringAt(error, 'type');
  const message = error === undefined ? undefined : stringAt(error, 'message');
  return new GatewayError('upstream_error', message === undefined ? 'upstream reported an error' : clip(message), {
    retryable: type === 'overloaded_error' || type === 'api_error' || type === 'rate_limit_error',
  });
}

/** Messages API event stream → Chunks. */
export class AnthropicStreamMapper implements StreamMapper {
  readonly #upstreamModel: string;
  #started = false;
  #finished = false;
  #inputTokens: number | undefined;
  #outputTokens: number | undefined;
  /** Content block index → tool call; tool calls are numbered 0, 1, … whatever blocks sit between them. */
  readonly #tools = new Map<number, { index: number; hasArguments: boolean }>();

  constructor(upstreamModel: string) {
    this.#upstreamModel = upstreamModel;
  }

  onEvent(event: string | undefined, data: string, out: Chunk[]): boolean {
    const json = parseJson(data);
    if (!isObject(json)) {
      if (event === 'ping') return false;
      throw malformed('unreadable stream event');
    }
    switch (stringAt(json, 'type') ?? event) {
      case 'message_start': {
        const message = objectAt(json, 'message');
        if (message === undefined) throw malformed('message_start without a message');
        this.#start(message, out);
        const usage = objectAt(message, 'usage');
        if (usage !== undefined) {
          this.#inputTokens = inputTokensOf(usage);
          this.#outputTokens = numberAt(usage, 'output_tokens');
        }
        return false;
      }
      case 'content_block_start':
        this.#onBlockStart(json, out);
        return false;
      case 'content_block_delta':
        this.#onBlockDelta(json, out);
        return false;
      case 'content_block_stop': {
        const tool = this.#tools.get(numberAt(json, 'index') ?? -1);
        // A call without arguments streams no JSON at all; '{}' keeps the arguments valid JSON,
        // as they are in non-streamed answers.
        if (tool !== undefined && !tool.hasArguments) {
          tool.hasArguments = true;
          out.push({ type: 'tool_call_delta', index: tool.index, arguments: '{}' });
        }
        return false;
      }
      case 'message_delta': {
        const delta = objectAt(json, 'delta');
        const reason = delta === undefined ? undefined : stringAt(delta, 'stop_reason');
        if (reason !== undefined && !this.#finished) {
          this.#finished = true;
          this.#start(json, out);
          out.push({ type: 'finish', reason: mapAnthropicStop(reason) });
        }
        const usage = objectAt(json, 'usage');
        if (usage !== undefined) {
          this.#outputTokens = numberAt(usage, 'output_tokens') ?? this.#outputTokens;
          this.#inputTokens ??= inputTokensOf(usage);
        }
        return false;
      }
      case 'message_stop':
        this.onEnd(out);
        return true;
      case 'error':
        throw errorEvent(objectAt(json, 'error'));
      default:
        // ping, and event types added after this was written.
        return false;
    }
  }

  #start(message: WireObject, out: Chunk[]): void {
    if (this.#started) return;
    this.#started = true;
    out.push({ type: 'start', id: stringAt(message, 'id') ?? '', model: stringAt(message, 'model') ?? this.#upstreamModel, created: now() });
  }

  #onBlockStart(json: WireObject, out: Chunk[]): void {
    const block = objectAt(json, 'content_block');
    if (block === undefined) return;
    // Chunks must open with start even if an upstream skipped message_start.
    this.#start(json, out);
    const type = stringAt(block, 'type');
    if (type === 'tool_use') {
      const index = this.#tools.size;
      this.#tools.set(numberAt(json, 'index') ?? -1, { index, hasArguments: false });
      out.push({ type: 'tool_call_start', index, id: stringAt(block, 'id') ?? '', name: stringAt(block, 'name') ?? '' });
    } else if (type === 'text') {
      const text = stringAt(block, 'text');
      if (text !== undefined && text !== '') out.push({ type: 'text', text });
    }
  }

  #onBlockDelta(json: WireObject, out: Chunk[]): void {
    const delta = objectAt(json, 'delta');
    if (delta === undefined) return;
    const type = stringAt(delta, 'type');
    if (type === 'text_delta') {
      const text = stringAt(delta, 'text');
      // Like a block start: the encoders frame every chunk after a start, so an upstream
      // that skipped message_start and content_block_start must not make them write broken frames.
      if (text !== undefined && text !== '') {
        this.#start(json, out);
        out.push({ type: 'text', text });
      }
    } else if (type === 'input_json_delta') {
      const tool = this.#tools.get(numberAt(json, 'index') ?? -1);
      const partial = stringAt(delta, 'partial_json');
      if (tool === undefined) throw malformed('input_json_delta for a block that is not a tool call');
      if (partial !== undefined && partial !== '') {
        tool.hasArguments = true;
        out.push({ type: 'tool_call_delta', index: tool.index, arguments: partial });
      }
    }
    // thinking_delta, signature_delta, citations_delta: not part of the internal model.
  }

  onEnd(out: Chunk[]): void {
    if (!this.#finished) throw new GatewayError('upstream_error', 'upstream stream ended before the answer was complete', { retryable: true });
    if (this.#inputTokens !== undefined || this.#outputTokens !== undefined) {
      out.push({ type: 'usage', usage: { inputTokens: this.#inputTokens ?? 0, outputTokens: this.#outputTokens ?? 0 } });
      this.#inputTokens = undefined;
      this.#outputTokens = undefined;
    }
  }
}
