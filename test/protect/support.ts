import fc from 'fast-check';
import type { ChatRequest, ContentPart, Message, ToolCall, ToolDefinition } from '../../src/domain/chat.js';
import type { JsonValue } from '../../src/domain/json.js';

export function userMessage(text: string): Message {
  return { role: 'user', content: [{ type: 'text', text }] };
}

export function request(messages: Message[], overrides: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'gpt-up', messages, stream: false, includeUsage: false, protocolParams: {}, ...overrides };
}

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('Alice Smith', 'card 4111 1111 1111 1111', 'mail a.b@corp.io', '<PERSON_1>', '', 'a.b', '__proto__', '0', '12'),
);
const jsonObject = fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) as fc.Arbitrary<{ [key: string]: JsonValue }>;

/** Argument texts: valid JSON, JSON with repeated keys and long integers, and not JSON at all. */
const argumentsText = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.constantFrom(
    '{"card": 4111111111111111111, "a": true, "n": -1.5e3}',
    '{"a": "x", "a": "Alice", "b": [1, {"a": 2, "a": "y"}]}',
    '{"10": "ten", "2": "two", "k": null}',
    '{"name": "Bob \\"the\\" builder\\n\\u00e9"}',
    'not json {',
    '',
    '[4111, 1111, 1111, 1111]',
  ),
);

const part: fc.Arbitrary<ContentPart> = fc.oneof(
  text.map((t): ContentPart => ({ type: 'text', text: t })),
  fc.constantFrom<ContentPart>({ type: 'image', url: 'data:image/png;base64,AAAA' }, { type: 'image', url: 'https://img.example.io/x.png', detail: 'low' }),
);

const toolCall: fc.Arbitrary<ToolCall> = fc.record({ id: fc.string({ maxLength: 4 }), name: text, arguments: argumentsText });

const message: fc.Arbitrary<Message> = fc
  .record({
    role: fc.constantFrom('system', 'user', 'assistant', 'tool') as fc.Arbitrary<Message['role']>,
    content: fc.array(part, { maxLength: 3 }),
    name: fc.option(text, { nil: undefined }),
    toolCalls: fc.option(fc.array(toolCall, { maxLength: 2 }), { nil: undefined }),
  })
  .map((m) => {
    const out: Message = { role: m.role, content: m.content };
    if (m.name !== undefined) out.name = m.name;
    if (m.toolCalls !== undefined) out.toolCalls = m.toolCalls;
    return out;
  });

const tool: fc.Arbitrary<ToolDefinition> = fc
  .record({ name: text, description: fc.option(text, { nil: undefined }), parameters: fc.option(jsonObject, { nil: undefined }) })
  .map((t) => {
    const out: ToolDefinition = { name: t.name };
    if (t.description !== undefined) out.description = t.description;
    if (t.parameters !== undefined) out.parameters = t.parameters;
    return out;
  });

export const chatRequestArb: fc.Arbitrary<ChatRequest> = fc
  .record({
    messages: fc.array(message, { minLength: 1, maxLength: 4 }),
    tools: fc.option(fc.array(tool, { maxLength: 2 }), { nil: undefined }),
    toolChoice: fc.option(fc.oneof(fc.constantFrom('auto' as const, 'none' as const), text.map((name) => ({ name }))), { nil: undefined }),
    responseFormat: fc.option(
      fc.record({ name: text, description: fc.option(text, { nil: undefined }), schema: fc.option(jsonObject, { nil: undefined }) }),
      { nil: undefined },
    ),
    stop: fc.option(fc.array(text, { maxLength: 2 }), { nil: undefined }),
    user: fc.option(text, { nil: undefined }),
    openai: fc.option(jsonObject, { nil: undefined }),
    anthropic: fc.option(jsonObject, { nil: undefined }),
  })
  .map((r) => {
    const out = request(r.messages, { protocolParams: { openai: r.openai, anthropic: r.anthropic } });
    if (r.tools !== undefined) out.tools = r.tools;
    if (r.toolChoice !== undefined) out.toolChoice = r.toolChoice;
    if (r.responseFormat !== undefined) {
      const rf: NonNullable<ChatRequest['responseFormat']> = { type: 'json_schema', name: r.responseFormat.name };
      if (r.responseFormat.description !== undefined) rf.description = r.responseFormat.description;
      if (r.responseFormat.schema !== undefined) rf.schema = r.responseFormat.schema;
      out.responseFormat = rf;
    }
    if (r.stop !== undefined) out.stop = r.stop;
    if (r.user !== undefined) out.user = r.user;
    return out;
  });

/** Splits text at random boundaries (fast-check), including one character per piece. */
export function splitAt(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) out.push(text.slice(at, p));
    at = Math.max(at, p);
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export function chars(text: string): string[] {
  return [...text].length === text.length ? text.split('') : Array.from(text);
}
