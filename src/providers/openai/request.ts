import { type ChatRequest, type ContentPart, type EmbeddingRequest, type Message, type ToolChoice, textOf } from '../../domain/chat.js';
import type { JsonValue } from '../../domain/json.js';

/** The OpenAI Chat Completions wire shapes this provider sends. */
export type OpenAiContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } };

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type OpenAiMessage =
  | { role: 'system'; content: string; name?: string }
  | { role: 'user'; content: string | OpenAiContentPart[]; name?: string }
  | { role: 'assistant'; content: string | null; name?: string; tool_calls?: OpenAiToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

export interface OpenAiTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: { [key: string]: JsonValue } };
}

export type OpenAiToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export type OpenAiResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: { [key: string]: JsonValue }; strict?: boolean; description?: string } };

export interface OpenAiChatBody {
  [key: string]: unknown;
  model: string;
  messages: OpenAiMessage[];
  stream: boolean;
  stream_options?: { include_usage: boolean };
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  user?: string;
  tools?: OpenAiTool[];
  tool_choice?: OpenAiToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: OpenAiResponseFormat;
}

/**
 * Internal request → OpenAI body. Fields left undefined are dropped by
 * JSON.stringify, which is cheaper than building the object conditionally.
 */
export function toOpenAiChatBody(request: ChatRequest, upstreamModel: string, stream: boolean): OpenAiChatBody {
  const messages: OpenAiMessage[] = new Array<OpenAiMessage>(request.messages.length);
  for (let i = 0; i < request.messages.length; i++) messages[i] = toOpenAiMessage(request.messages[i]!);
  const hasTools = request.tools !== undefined && request.tools.length > 0;
  return {
    // Spread first so these passthrough parameters can add to the body but never
    // override what routing and policy decided (model, messages, stream, limits).
    ...request.protocolParams.openai,
    model: upstreamModel,
    messages,
    stream,
    // Always asked for when streaming: the gateway records usage even if the client
    // did not ask to see it; the http layer decides what the client gets.
    stream_options: stream ? { include_usage: true } : undefined,
    max_tokens: request.maxTokens,
    temperature: request.temperature,
    top_p: request.topP,
    stop: request.stop !== undefined && request.stop.length > 0 ? request.stop : undefined,
    user: request.user,
    tools: hasTools ? request.tools!.map(toOpenAiTool) : undefined,
    // OpenAI rejects these two without tools.
    tool_choice: hasTools && request.toolChoice !== undefined ? toOpenAiToolChoice(request.toolChoice) : undefined,
    parallel_tool_calls: hasTools ? request.parallelToolCalls : undefined,
    response_format: request.responseFormat === undefined ? undefined : toOpenAiResponseFormat(request.responseFormat),
  };
}

function toOpenAiMessage(message: Message): OpenAiMessage {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: textOf(message.content), name: message.name };
    case 'user':
      return { role: 'user', content: toUserContent(message.content), name: message.name };
    case 'assistant': {
      const calls = message.toolCalls;
      if (calls === undefined || calls.length === 0) return { role: 'assistant', content: textOf(message.content), name: message.name };
      const text = textOf(message.content);
      return {
        role: 'assistant',
        // OpenAI's own transcripts carry null content next to tool calls.
        content: text === '' ? null : text,
        name: message.name,
        tool_calls: calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
      };
    }
    case 'tool':
      return { role: 'tool', content: textOf(message.content), tool_call_id: message.toolCallId ?? '' };
  }
}

/**
 * A lone text part goes as a plain string: every OpenAI-compatible server accepts
 * that, while some local ones still reject the array form.
 */
function toUserContent(content: ContentPart[]): string | OpenAiContentPart[] {
  if (content.length === 0) return '';
  const first = content[0]!;
  if (content.length === 1 && first.type === 'text') return first.text;
  const parts = new Array<OpenAiContentPart>(content.length);
  for (let i = 0; i < content.length; i++) {
    const part = content[i]!;
    parts[i] =
      part.type === 'text'
        ? { type: 'text', text: part.text }
        : { type: 'image_url', image_url: { url: part.url, detail: part.detail } };
  }
  return parts;
}

function toOpenAiTool(tool: NonNullable<ChatRequest['tools']>[number]): OpenAiTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}

function toOpenAiToolChoice(choice: ToolChoice): OpenAiToolChoice {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

function toOpenAiResponseFormat(format: NonNullable<ChatRequest['responseFormat']>): OpenAiResponseFormat {
  if (format.type !== 'json_schema') return format;
  return {
    type: 'json_schema',
    json_schema: { name: format.name, schema: format.schema, strict: format.strict, description: format.description },
  };
}

export interface OpenAiEmbeddingBody {
  model: string;
  input: string[];
  encoding_format: 'float';
  dimensions?: number;
  user?: string;
}

export function toOpenAiEmbeddingBody(request: EmbeddingRequest, upstreamModel: string): OpenAiEmbeddingBody {
  return {
    model: upstreamModel,
    input: request.input,
    // Base64 would need decoding here; floats are what the internal model carries.
    encoding_format: 'float',
    dimensions: request.dimensions,
    user: request.user,
  };
}
