import { randomUUID } from 'node:crypto';
import type { ChatResponse, Chunk, EmbeddingResponse, FinishReason, ToolCall, Usage } from '../../domain/chat.js';
import { GatewayError } from '../../domain/errors.js';
import { malformed, upstreamMessageOf } from '../http-client.js';
import type { StreamMapper } from '../sse-stream.js';
import { StringSlot } from '../string-slot.js';
import { type WireObject, arrayAt, isObject, numberAt, objectAt, parseJson, stringAt } from '../wire-json.js';

export function mapOpenAiFinish(reason: string): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      // 'stop', 'eos' and server-specific values all mean the model ended the turn.
      return 'stop';
  }
}

function mapUsage(usage: WireObject): Usage {
  return { inputTokens: numberAt(usage, 'prompt_tokens') ?? 0, outputTokens: numberAt(usage, 'completion_tokens') ?? 0 };
}

/** Some compatible servers send tool arguments as an object; the internal model keeps JSON text. */
function argumentsText(fn: WireObject): string {
  const value = fn['arguments'];
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? '' : JSON.stringify(value);
}

/** An error object inside a 2xx body or stream. */
function embeddedError(error: unknown): GatewayError {
  return new GatewayError('upstream_error', upstreamMessageOf({ error }) ?? 'upstream reported an error', { retryable: true });
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

export function fromOpenAiChat(json: unknown, upstreamModel: string): ChatResponse {
  if (!isObject(json)) throw malformed('expected a JSON object');
  const choice = arrayAt(json, 'choices')?.[0];
  if (!isObject(choice)) {
    if (json['error'] !== undefined && json['error'] !== null) throw embeddedError(json['error']);
    throw malformed('no choices');
  }
  const message = objectAt(choice, 'message');
  const toolCalls: ToolCall[] = [];
  const calls = message === undefined ? undefined : arrayAt(message, 'tool_calls');
  if (calls !== undefined) {
    for (const call of calls) {
      if (!isObject(call)) continue;
      const fn = objectAt(call, 'function');
      if (fn === undefined) continue;
      toolCalls.push({ id: stringAt(call, 'id') ?? `call_${randomUUID()}`, name: stringAt(fn, 'name') ?? '', arguments: argumentsText(fn) });
    }
  }
  const reason = stringAt(choice, 'finish_reason');
  const usage = objectAt(json, 'usage');
  return {
    id: stringAt(json, 'id') ?? '',
    model: stringAt(json, 'model') ?? upstreamModel,
    created: numberAt(json, 'created') ?? now(),
    // A refusal is the model's answer, so it is shown as content rather than lost.
    content: message === undefined ? null : (stringAt(message, 'content') ?? stringAt(message, 'refusal') ?? null),
    toolCalls,
    finishReason: reason === undefined ? (toolCalls.length > 0 ? 'tool_calls' : 'stop') : mapOpenAiFinish(reason),
    usage: usage === undefined ? undefined : mapUsage(usage),
  };
}

/**
 * OpenAI chunk stream → Chunks. Only choice 0 is followed: the internal model has
 * one answer per request.
 */
export class OpenAiStreamMapper implements StreamMapper {
  readonly #upstreamModel: string;
  #started = false;
  #finished = false;
  #usage: Usage | undefined;
  /** Tool call indexes already announced with tool_call_start. */
  readonly #tools = new Set<number>();
  /** The shape of this stream's plain text deltas, once one has been seen. */
  readonly #textDelta = new StringSlot();

  constructor(upstreamModel: string) {
    this.#upstreamModel = upstreamModel;
  }

  onEvent(_event: string | undefined, data: string, out: Chunk[]): boolean {
    const text = this.#textDelta.read(data);
    if (text !== undefined) {
      // Exactly what the full path below does for a plain text delta.
      if (text !== '') out.push({ type: 'text', text });
      return false;
    }
    if (data === '[DONE]') {
      this.onEnd(out);
      return true;
    }
    const json = parseJson(data);
    if (!isObject(json)) throw malformed('unreadable stream event');
    const error = json['error'];
    if (error !== undefined && error !== null) throw embeddedError(error);
    if (!this.#started) {
      this.#started = true;
      out.push({
        type: 'start',
        id: stringAt(json, 'id') ?? '',
        model: stringAt(json, 'model') ?? this.#upstreamModel,
        created: numberAt(json, 'created') ?? now(),
      });
    }
    const choices = arrayAt(json, 'choices');
    if (choices !== undefined) {
      for (const choice of choices) {
        if (!isObject(choice) || (numberAt(choice, 'index') ?? 0) !== 0) continue;
        this.#onChoice(choice, out);
      }
    }
    const usage = objectAt(json, 'usage');
    // Kept, not emitted: usage must follow finish, and some servers repeat it per chunk.
    if (usage !== undefined) this.#usage = mapUsage(usage);
    if (!this.#textDelta.ready) learnTextDelta(this.#textDelta, data, json);
    return false;
  }

  #onChoice(choice: WireObject, out: Chunk[]): void {
    const delta = objectAt(choice, 'delta');
    if (delta !== undefined) {
      const text = stringAt(delta, 'content');
      if (text !== undefined && text !== '') out.push({ type: 'text', text });
      const calls = arrayAt(delta, 'tool_calls');
      if (calls !== undefined) this.#onToolCalls(calls, out);
    }
    const reason = stringAt(choice, 'finish_reason');
    if (reason !== undefined && !this.#finished) {
      this.#finished = true;
      out.push({ type: 'finish', reason: mapOpenAiFinish(reason) });
    }
  }

  #onToolCalls(calls: readonly unknown[], out: Chunk[]): void {
    for (let position = 0; position < calls.length; position++) {
      const call = calls[position];
      if (!isObject(call)) continue;
      const index = numberAt(call, 'index') ?? position;
      const fn = objectAt(call, 'function');
      const id = stringAt(call, 'id');
      const name = fn === undefined ? undefined : stringAt(fn, 'name');
      const args = fn === undefined ? '' : argumentsText(fn);
      if (!this.#tools.has(index) && (id !== undefined || name !== undefined || args !== '')) {
        this.#tools.add(index);
        // Servers that omit the id still need one downstream to pair results with calls.
        out.push({ type: 'tool_call_start', index, id: id ?? `call_${randomUUID()}`, name: name ?? '' });
      }
      if (args !== '') out.push({ type: 'tool_call_delta', index, arguments: args });
    }
  }

  onEnd(out: Chunk[]): void {
    if (!this.#finished) throw new GatewayError('upstream_error', 'upstream stream ended before the answer was complete', { retryable: true });
    if (this.#usage !== undefined) {
      out.push({ type: 'usage', usage: this.#usage });
      this.#usage = undefined;
    }
  }
}

const TEXT_DELTA_MARKER = '"delta":{"content":';

/**
 * Learns the slot from a plain text delta: one choice at index 0 whose delta is only
 * `content`, no finish_reason, usage or error, every other field a scalar (so no other
 * object can hold a "delta"), and the event its own canonical serialisation. Such an
 * event has no effect but the text chunk, which is all the fast path produces.
 */
function learnTextDelta(slot: StringSlot, data: string, json: WireObject): void {
  const choices = json['choices'];
  if (!Array.isArray(choices) || choices.length !== 1) return;
  const choice: unknown = choices[0];
  if (!isObject(choice) || (choice['index'] !== undefined && choice['index'] !== 0)) return;
  const delta = choice['delta'];
  if (!isObject(delta)) return;
  const keys = Object.keys(delta);
  const content = delta['content'];
  if (keys.length !== 1 || typeof content !== 'string') return;
  if (choice['finish_reason'] !== undefined && choice['finish_reason'] !== null) return;
  if ((json['usage'] !== undefined && json['usage'] !== null) || (json['error'] !== undefined && json['error'] !== null)) return;
  for (const key of Object.keys(json)) if (key !== 'choices' && !isScalar(json[key])) return;
  for (const key of Object.keys(choice)) if (key !== 'delta' && !isScalar(choice[key])) return;
  if (JSON.stringify(json) !== data) return;
  slot.learn(data, TEXT_DELTA_MARKER, content);
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

export function fromOpenAiEmbeddings(json: unknown, upstreamModel: string, expected: number): EmbeddingResponse {
  if (!isObject(json)) throw malformed('expected a JSON object');
  const data = arrayAt(json, 'data');
  if (data === undefined) {
    if (json['error'] !== undefined && json['error'] !== null) throw embeddedError(json['error']);
    throw malformed('no data');
  }
  if (data.length !== expected) throw malformed(`expected ${expected} embeddings, got ${data.length}`);
  // Placed by index rather than sorted: same result, no comparator calls.
  const vectors = new Array<number[]>(data.length);
  for (let position = 0; position < data.length; position++) {
    const item = data[position];
    if (!isObject(item)) throw malformed('embedding entry is not an object');
    const index = numberAt(item, 'index') ?? position;
    const embedding = item['embedding'];
    // Element types are spot-checked, not scanned: a float array is thousands long.
    if (!Array.isArray(embedding) || (embedding.length > 0 && typeof embedding[0] !== 'number')) throw malformed('embedding is not a float array');
    if (!Number.isInteger(index) || index < 0 || index >= data.length || vectors[index] !== undefined) throw malformed('embedding indexes are not a permutation');
    vectors[index] = embedding as number[];
  }
  const usage = objectAt(json, 'usage');
  return {
    model: stringAt(json, 'model') ?? upstreamModel,
    vectors,
    usage: { inputTokens: usage === undefined ? 0 : (numberAt(usage, 'prompt_tokens') ?? 0), outputTokens: 0 },
  };
}
