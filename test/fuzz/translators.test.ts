import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { textOf, type ChatRequest, type ChatResponse, type Chunk, type Message } from '../../src/domain/chat.js';
import { GatewayError } from '../../src/domain/errors.js';
import { chatRequestFromAnthropic, chatResponseToAnthropic } from '../../src/http/anthropic/mapper.js';
import { anthropicMessagesRequest } from '../../src/http/anthropic/schema.js';
import { AnthropicStreamEncoder } from '../../src/http/anthropic/stream.js';
import { chatRequestFromOpenAI, chatResponseToOpenAI } from '../../src/http/openai/mapper.js';
import { openAIChatRequest } from '../../src/http/openai/schema.js';
import { OpenAIStreamEncoder } from '../../src/http/openai/stream.js';
import { toAnthropicBody } from '../../src/providers/anthropic/request.js';
import { AnthropicStreamMapper, fromAnthropicMessage } from '../../src/providers/anthropic/response.js';
import { toOpenAiChatBody } from '../../src/providers/openai/request.js';
import { OpenAiStreamMapper, fromOpenAiChat, fromOpenAiEmbeddings } from '../../src/providers/openai/response.js';
import type { StreamMapper } from '../../src/providers/sse-stream.js';
import { nastyText, params } from './support.js';

/**
 * The translators between the wire protocols and the internal model, driven by
 * arbitraries that follow the zod schemas' structure. Each generated body is first
 * checked against the real schema, so the arbitraries cannot drift into testing
 * something the gateway would never accept.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 12 }), nastyText);
const nonEmpty = text.filter((s) => s.length > 0);
const toolName = fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/);
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, { maxKeys: 4 });
const imageUrl = fc.oneof(
  fc.webUrl(),
  fc.tuple(fc.constantFrom('image/png', 'image/jpeg', 'image/gif', 'image/webp'), fc.base64String({ minLength: 4, maxLength: 24 })).map(([t, d]) => `data:${t};base64,${d}`),
  // Not reachable from Anthropic upstreams: the mappers must refuse these with a GatewayError.
  fc.constantFrom('ftp://x/y.png', 'data:image/png,raw', 'file:///etc/passwd', 'javascript:alert(1)'),
);

/** Whether mapping may throw: only GatewayError is allowed out of a translator. */
function onlyGatewayErrors<T>(run: () => T): T | GatewayError {
  try {
    return run();
  } catch (err) {
    assert.ok(err instanceof GatewayError, `a translator threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    return err;
  }
}

// ------------------------------------------------------------------ OpenAI wire requests

const oaTextParts = fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 3 });
const oaToolCall = fc.record({
  id: nonEmpty,
  type: fc.constant('function'),
  function: fc.record({ name: nonEmpty, arguments: fc.oneof(text, jsonObject.map((o) => JSON.stringify(o))) }),
});
const oaMessage = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer'), content: fc.oneof(text, oaTextParts), name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record(
    {
      role: fc.constant('user'),
      content: fc.oneof(
        text,
        fc.array(fc.oneof(fc.record({ type: fc.constant('text'), text }), fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: imageUrl }) })), { maxLength: 3 }),
      ),
      name: text,
    },
    { requiredKeys: ['role', 'content'] },
  ),
  fc.record(
    {
      role: fc.constant('assistant'),
      content: fc.oneof(fc.constant(null), text, fc.array(fc.oneof(fc.record({ type: fc.constant('text'), text }), fc.record({ type: fc.constant('refusal'), refusal: text })), { maxLength: 2 })),
      tool_calls: fc.array(oaToolCall, { maxLength: 2 }),
    },
    { requiredKeys: ['role'] },
  ),
  fc.record({ role: fc.constant('tool'), content: fc.oneof(text, oaTextParts), tool_call_id: nonEmpty }),
);
const openAIBody = fc.record(
  {
    model: nonEmpty,
    messages: fc.array(oaMessage, { minLength: 1, maxLength: 6 }),
    stream: fc.boolean(),
    max_tokens: fc.integer({ min: 1, max: 100_000 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    stop: fc.oneof(text, fc.array(text, { maxLength: 4 })),
    user: text,
    seed: fc.integer(),
    tools: fc.array(fc.record({ type: fc.constant('function'), function: fc.record({ name: toolName, description: text, parameters: jsonObject }, { requiredKeys: ['name'] }) }), { maxLength: 2 }),
    tool_choice: fc.oneof(fc.constantFrom('auto', 'none', 'required'), fc.record({ type: fc.constant('function'), function: fc.record({ name: nonEmpty }) })),
    parallel_tool_calls: fc.boolean(),
    metadata: fc.dictionary(fc.string({ maxLength: 6 }), text, { maxKeys: 2 }),
  },
  { requiredKeys: ['model', 'messages'] },
);

// --------------------------------------------------------------- Anthropic wire requests

const anImage = fc.record({
  type: fc.constant('image'),
  source: fc.oneof(
    fc.record({ type: fc.constant('base64'), media_type: fc.constantFrom('image/jpeg', 'image/png', 'image/gif', 'image/webp'), data: fc.base64String({ minLength: 4, maxLength: 24 }) }),
    fc.record({ type: fc.constant('url'), url: fc.oneof(fc.webUrl(), nonEmpty) }),
  ),
});
const anText = fc.record({ type: fc.constant('text'), text });
const anToolUse = fc.record({ type: fc.constant('tool_use'), id: nonEmpty, name: nonEmpty, input: jsonObject });
const anToolResult = fc.record(
  { type: fc.constant('tool_result'), tool_use_id: nonEmpty, content: fc.oneof(text, fc.array(fc.oneof(anText, anImage), { maxLength: 2 })), is_error: fc.boolean() },
  { requiredKeys: ['type', 'tool_use_id'] },
);
// Calls come from the assistant and results from the user, as the Messages API requires (the gateway refuses the rest).
const anMessage = fc.oneof(
  fc.record({ role: fc.constant('user'), content: fc.oneof(text, fc.array(fc.oneof(anText, anImage, anToolResult), { maxLength: 4 })) }),
  fc.record({ role: fc.constant('assistant'), content: fc.oneof(text, fc.array(fc.oneof(anText, anImage, anToolUse), { maxLength: 4 })) }),
);
const anthropicBody = fc.record(
  {
    model: nonEmpty,
    max_tokens: fc.integer({ min: 1, max: 100_000 }),
    messages: fc.array(anMessage, { minLength: 1, maxLength: 5 }),
    system: fc.oneof(text, fc.array(anText, { maxLength: 2 })),
    stop_sequences: fc.array(text, { maxLength: 3 }),
    stream: fc.boolean(),
    temperature: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.nat(),
    tools: fc.array(fc.record({ name: toolName, description: text, input_schema: jsonObject }, { requiredKeys: ['name', 'input_schema'] }), { maxLength: 2 }),
    tool_choice: fc.oneof(
      fc.record({ type: fc.constantFrom('auto', 'any'), disable_parallel_tool_use: fc.boolean() }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('tool'), name: nonEmpty }),
      fc.record({ type: fc.constant('none') }),
    ),
    metadata: fc.record({ user_id: text }),
  },
  { requiredKeys: ['model', 'max_tokens', 'messages'] },
);

// ------------------------------------------------------------- comparing conversations

interface View {
  role: string;
  text: string;
  images: string[];
  calls: Array<{ id: string; name: string; arguments: unknown }>;
  toolCallId: string | undefined;
}

/** What a translation must keep: per message, its role, text, images and tool calls. */
function viewOf(messages: readonly Message[], parseArguments: boolean): View[] {
  return messages.map((m) => ({
    role: m.role,
    text: textOf(m.content),
    images: m.content.flatMap((p) => (p.type === 'image' ? [p.url] : [])),
    calls: (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: parseArguments ? parseObject(c.arguments) : c.arguments })),
    toolCallId: m.toolCallId,
  }));
}

function parseObject(args: string): unknown {
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** Messages that carry nothing (no text, image or call) may vanish in a protocol that cannot express them. */
function substantive(views: View[]): View[] {
  return views.filter((v) => v.role === 'tool' || v.text !== '' || v.images.length > 0 || v.calls.length > 0);
}

function jsonRoundTrip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function mustParse<T>(result: { success: true; data: T } | { success: false; error: { issues: unknown[] } }, what: string): T {
  if (!result.success) assert.fail(`${what} rejected: ${JSON.stringify(result.error.issues).slice(0, 400)}`);
  return result.data;
}

describe('fuzzing the request translators', () => {
  it('OpenAI wire → internal → every upstream body never throws anything but GatewayError', () => {
    fc.assert(
      fc.property(openAIBody, (body) => {
        const wire = mustParse(openAIChatRequest.safeParse(body), 'generated OpenAI body');
        const chat = onlyGatewayErrors(() => chatRequestFromOpenAI(wire));
        assert.ok(!(chat instanceof GatewayError));
        for (const stream of [false, true]) {
          const oa = onlyGatewayErrors(() => toOpenAiChatBody(chat, 'up', stream));
          const an = onlyGatewayErrors(() => toAnthropicBody(chat, 'up', stream));
          for (const out of [oa, an]) if (!(out instanceof GatewayError)) assert.doesNotThrow(() => JSON.stringify(out));
        }
      }),
      params(400),
    );
  });

  it('OpenAI → internal → OpenAI upstream → internal keeps roles, text, images and tool calls', () => {
    fc.assert(
      fc.property(openAIBody, (body) => {
        const first = chatRequestFromOpenAI(mustParse(openAIChatRequest.safeParse(body), 'generated OpenAI body'));
        const upstream = jsonRoundTrip(toOpenAiChatBody(first, first.model, first.stream));
        const second = chatRequestFromOpenAI(mustParse(openAIChatRequest.safeParse(upstream), 'OpenAI upstream body'));
        assert.deepEqual(viewOf(second.messages, false), viewOf(first.messages, false));
        assert.deepEqual(jsonRoundTrip(second.tools ?? []), jsonRoundTrip(first.tools ?? []));
        assert.deepEqual(second.stop, first.stop?.length === 0 ? undefined : first.stop);
      }),
      params(300),
    );
  });

  it('Anthropic → internal → Anthropic upstream → internal keeps roles, text, images and tool calls', () => {
    fc.assert(
      fc.property(anthropicBody, (body) => {
        const first = chatRequestFromAnthropic(mustParse(anthropicMessagesRequest.safeParse(body), 'generated Anthropic body'));
        const upstream = onlyGatewayErrors(() => toAnthropicBody(first, first.model, first.stream));
        // Images the Messages API cannot fetch (not http(s): or base64 data:) are refused, which is allowed.
        if (upstream instanceof GatewayError) return assert.equal(upstream.code, 'invalid_request');
        const again = jsonRoundTrip(upstream);
        fc.pre(Array.isArray((again as { messages: unknown[] }).messages) && (again as { messages: unknown[] }).messages.length > 0);
        const second = chatRequestFromAnthropic(mustParse(anthropicMessagesRequest.safeParse(again), 'Anthropic upstream body'));
        assert.deepEqual(substantive(viewOf(second.messages, true)), substantive(viewOf(first.messages, true)));
      }),
      params(300),
    );
  });

  it('refuses Anthropic tool calls outside assistant messages and tool results outside user messages', () => {
    fc.assert(
      fc.property(anthropicBody, fc.nat(), fc.boolean(), (body, at, useInUser) => {
        const block = useInUser ? { type: 'tool_use', id: 'x', name: 'f', input: {} } : { type: 'tool_result', tool_use_id: 'x', content: 'r' };
        const messages: unknown[] = [...body.messages];
        const position = at % (messages.length + 1);
        messages.splice(position, 0, { role: useInUser ? 'user' : 'assistant', content: [{ type: 'text', text: 'a' }, block] });
        const wire = mustParse(anthropicMessagesRequest.safeParse({ ...body, messages }), 'generated Anthropic body');
        const refused = onlyGatewayErrors(() => chatRequestFromAnthropic(wire));
        assert.ok(refused instanceof GatewayError && refused.code === 'invalid_request', 'a misplaced block was accepted');
        assert.equal(refused.param, `messages[${position}].content[1]`);
      }),
      params(100),
    );
  });

  it('OpenAI → internal → Anthropic upstream → internal keeps the conversation (system hoisted, JSON arguments)', () => {
    fc.assert(
      fc.property(openAIBody, (body) => {
        const first = chatRequestFromOpenAI(mustParse(openAIChatRequest.safeParse(body), 'generated OpenAI body'));
        const upstream = onlyGatewayErrors(() => toAnthropicBody(first, first.model, first.stream));
        if (upstream instanceof GatewayError) return assert.equal(upstream.code, 'invalid_request');
        const again = jsonRoundTrip(upstream) as { messages: unknown[]; temperature?: number };
        fc.pre(again.messages.length > 0);
        // OpenAI allows temperatures up to 2, Anthropic up to 1; clamping is not the translator's job.
        delete again.temperature;
        const second = chatRequestFromAnthropic(mustParse(anthropicMessagesRequest.safeParse(again), 'Anthropic upstream body'));
        const systemOf = (r: ChatRequest): string => r.messages.filter((m) => m.role === 'system').map((m) => textOf(m.content)).join('\n\n');
        assert.equal(systemOf(second), systemOf(first));
        const rest = (r: ChatRequest): View[] => substantive(viewOf(r.messages.filter((m) => m.role !== 'system'), true));
        assert.deepEqual(rest(second), rest(first));
      }),
      params(300),
    );
  });
});

// ------------------------------------------------------------------------ responses

const finish = fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter') as fc.Arbitrary<ChatResponse['finishReason']>;
const chatResponse: fc.Arbitrary<ChatResponse> = fc.record({
  id: nonEmpty,
  model: nonEmpty,
  created: fc.nat(),
  content: fc.option(text, { nil: null }),
  toolCalls: fc.array(fc.record({ id: nonEmpty, name: nonEmpty, arguments: jsonObject.map((o) => JSON.stringify(o)) }), { maxLength: 3 }),
  finishReason: finish,
  usage: fc.record({ inputTokens: fc.nat(), outputTokens: fc.nat() }),
});

const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ choices: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 2 }), usage: fc.jsonValue({ maxDepth: 2 }), error: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
  fc.record({ content: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }), usage: fc.jsonValue({ maxDepth: 2 }), stop_reason: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
  fc.record({ data: fc.array(fc.record({ index: fc.jsonValue({ maxDepth: 1 }), embedding: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }), { maxLength: 3 }) }, { requiredKeys: [] }),
);

/** Parses SSE text the way the providers do and feeds each event to a stream mapper. */
function replay(sse: string, mapper: StreamMapper, cuts: readonly number[]): Chunk[] {
  const out: Chunk[] = [];
  let done = false;
  const parser = createParser({
    onEvent: (e) => {
      if (!done && mapper.onEvent(e.event, e.data, out)) done = true;
    },
  });
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (sse.length + 1))].sort((a, b) => a - b)) {
    parser.feed(sse.slice(at, Math.max(at, cut)));
    at = Math.max(at, cut);
  }
  parser.feed(sse.slice(at));
  if (!done) mapper.onEnd(out);
  return out;
}

function streamOf(response: ChatResponse): Chunk[] {
  const chunks: Chunk[] = [{ type: 'start', id: response.id, model: response.model, created: response.created }];
  if (response.content !== null && response.content !== '') chunks.push({ type: 'text', text: response.content });
  response.toolCalls.forEach((c, index) => {
    chunks.push({ type: 'tool_call_start', index, id: c.id, name: c.name });
    if (c.arguments !== '') chunks.push({ type: 'tool_call_delta', index, arguments: c.arguments });
  });
  chunks.push({ type: 'finish', reason: response.finishReason });
  if (response.usage !== undefined) chunks.push({ type: 'usage', usage: response.usage });
  return chunks;
}

function summary(chunks: readonly Chunk[]): { text: string; calls: Array<{ id: string; name: string; arguments: unknown }>; finish: string | undefined } {
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  let text = '';
  let reason: string | undefined;
  for (const c of chunks) {
    if (c.type === 'text') text += c.text;
    else if (c.type === 'tool_call_start') calls.set(c.index, { id: c.id, name: c.name, arguments: '' });
    else if (c.type === 'tool_call_delta') {
      const call = calls.get(c.index);
      if (call !== undefined) call.arguments += c.arguments;
    } else if (c.type === 'finish') reason = c.reason;
  }
  return { text, calls: [...calls.values()].map((c) => ({ ...c, arguments: parseObject(c.arguments) })), finish: reason };
}

describe('fuzzing the response translators', () => {
  it('upstream JSON of any shape maps to a response or a GatewayError, and the client body serialises', () => {
    fc.assert(
      fc.property(anyJson, fc.nat({ max: 4 }), (json, expected) => {
        for (const parse of [() => fromOpenAiChat(json, 'up'), () => fromAnthropicMessage(json, 'up')]) {
          const response = onlyGatewayErrors(parse);
          if (response instanceof GatewayError) continue;
          assert.doesNotThrow(() => JSON.stringify(chatResponseToOpenAI(response, 'm')));
          assert.doesNotThrow(() => JSON.stringify(chatResponseToAnthropic(response, 'm')));
        }
        onlyGatewayErrors(() => fromOpenAiEmbeddings(json, 'up', expected));
      }),
      params(500),
    );
  });

  it('upstream stream events of any shape give chunks or a GatewayError', () => {
    const eventName = fc.option(fc.oneof(fc.constantFrom('message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'error', 'ping'), fc.string({ maxLength: 8 })), { nil: undefined });
    // Event-shaped payloads too, so that events arrive in every order (a delta before any start, say).
    const anthropicShaped = fc.record(
      {
        type: fc.constantFrom('message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'error'),
        index: fc.nat({ max: 2 }),
        message: fc.record({ id: text, usage: fc.record({ input_tokens: fc.nat() }) }, { requiredKeys: [] }),
        content_block: fc.oneof(fc.record({ type: fc.constant('text'), text }), fc.record({ type: fc.constant('tool_use'), id: text, name: text })),
        delta: fc.oneof(fc.record({ type: fc.constant('text_delta'), text }), fc.record({ type: fc.constant('input_json_delta'), partial_json: text }), fc.record({ stop_reason: fc.constantFrom('end_turn', 'tool_use', 'max_tokens') })),
        usage: fc.record({ output_tokens: fc.nat() }),
      },
      { requiredKeys: ['type'] },
    );
    const openAIShaped = fc.record(
      { id: text, choices: fc.array(fc.record({ index: fc.nat({ max: 1 }), delta: fc.record({ content: text, tool_calls: fc.array(fc.record({ index: fc.nat({ max: 1 }), id: text, function: fc.record({ name: text, arguments: text }, { requiredKeys: [] }) }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }), finish_reason: fc.constantFrom('stop', 'length', 'tool_calls') }, { requiredKeys: [] }), { maxLength: 2 }), usage: fc.record({ prompt_tokens: fc.nat() }) },
      { requiredKeys: [] },
    );
    const data = fc.oneof(
      fc.constant('[DONE]'),
      fc.string({ maxLength: 30 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      anyJson.map((v) => JSON.stringify(v)),
      anthropicShaped.map((v) => JSON.stringify(v)),
      openAIShaped.map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(eventName, data), { maxLength: 8 }), (events) => {
        for (const mapper of [new OpenAiStreamMapper('up'), new AnthropicStreamMapper('up')]) {
          const out: Chunk[] = [];
          onlyGatewayErrors(() => {
            for (const [event, payload] of events) if (mapper.onEvent(event, payload, out)) return;
            mapper.onEnd(out);
          });
          // The encoders frame every chunk after a start: whatever the upstream skipped, chunks open with one.
          if (out.length > 0) assert.equal(out[0]!.type, 'start', JSON.stringify(out.slice(0, 2)));
        }
      }),
      params(500),
    );
  });

  it('a response rendered for a client and read back by a provider keeps its text and tool calls', () => {
    fc.assert(
      fc.property(chatResponse, (response) => {
        const viaOpenAI = fromOpenAiChat(jsonRoundTrip(chatResponseToOpenAI(response, 'm')), 'm');
        assert.equal(viaOpenAI.content, response.content);
        assert.deepEqual(viaOpenAI.toolCalls, jsonRoundTrip(response.toolCalls));
        const viaAnthropic = fromAnthropicMessage(jsonRoundTrip(chatResponseToAnthropic(response, 'm')), 'm');
        assert.equal(viaAnthropic.content ?? '', response.content ?? '');
        assert.deepEqual(viaAnthropic.toolCalls.map((c) => ({ ...c, arguments: parseObject(c.arguments) })), response.toolCalls.map((c) => ({ ...c, arguments: parseObject(c.arguments) })));
      }),
      params(300),
    );
  });

  it('a stream encoded for a client and parsed back by a provider, split anywhere, keeps text, tool calls and finish', () => {
    fc.assert(
      fc.property(chatResponse, fc.array(fc.nat(), { maxLength: 12 }), (response, cuts) => {
        const chunks = streamOf(response);
        const expected = summary(chunks);
        const openai = new OpenAIStreamEncoder('m', true);
        const sseOpenAI = chunks.map((c) => openai.chunk(c)).join('') + openai.end();
        assert.deepEqual(summary(replay(sseOpenAI, new OpenAiStreamMapper('m'), cuts)), expected);
        const anthropic = new AnthropicStreamEncoder('m');
        const sseAnthropic = chunks.map((c) => anthropic.chunk(c)).join('') + anthropic.end();
        assert.deepEqual(summary(replay(sseAnthropic, new AnthropicStreamMapper('m'), cuts)), expected);
      }),
      params(300),
    );
  });
});
