import type { ChatRequest, ChatResponse, ContentPart, EmbeddingRequest, EmbeddingResponse, Message, ToolChoice, Usage } from '../../domain/chat.js';
import type { JsonValue } from '../../domain/json.js';
import type { CatalogEntry } from '../../route/catalog.js';
import type { PeerModel } from '../../federation/peer-models.js';
import { retrievalFrom } from '../retrieval-schema.js';
import type { OpenAIChatRequest, OpenAIEmbeddingRequest, OpenAIMessage } from './schema.js';

/** Parameters with no counterpart in other protocols; forwarded to OpenAI-protocol backends only. */
const OPENAI_ONLY = [
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'seed',
  'service_tier',
  'reasoning_effort',
  'store',
  'metadata',
] as const;

/** The body metadata key that carries a caller's sensitivity label; it is never forwarded. */
export const SENSITIVITY_METADATA = 'perimeter_sensitivity';

export function chatRequestFromOpenAI(body: OpenAIChatRequest): ChatRequest {
  const openai: { [key: string]: JsonValue } = {};
  for (const key of OPENAI_ONLY) {
    const value = body[key];
    if (value !== undefined && value !== null) openai[key] = value;
  }
  if (body.metadata?.[SENSITIVITY_METADATA] !== undefined) {
    const { [SENSITIVITY_METADATA]: _label, ...rest } = body.metadata;
    if (Object.keys(rest).length > 0) openai.metadata = rest;
    else delete openai.metadata;
  }
  const request: ChatRequest = {
    model: body.model,
    messages: body.messages.map(messageFromOpenAI),
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    protocolParams: { openai },
  };
  if (body.perimeter !== undefined) request.retrieval = retrievalFrom(body.perimeter);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) request.maxTokens = maxTokens;
  if (body.temperature !== undefined && body.temperature !== null) request.temperature = body.temperature;
  if (body.top_p !== undefined && body.top_p !== null) request.topP = body.top_p;
  if (body.stop !== undefined && body.stop !== null) request.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.user !== undefined) request.user = body.user;
  if (body.parallel_tool_calls !== undefined) request.parallelToolCalls = body.parallel_tool_calls;
  if (body.tools !== undefined) {
    request.tools = body.tools.map(({ function: f }) => {
      const def: NonNullable<ChatRequest['tools']>[number] = { name: f.name };
      if (f.description !== undefined) def.description = f.description;
      if (f.parameters !== undefined) def.parameters = f.parameters;
      return def;
    });
  }
  if (body.tool_choice !== undefined) {
    const choice: ToolChoice = typeof body.tool_choice === 'string' ? body.tool_choice : { name: body.tool_choice.function.name };
    request.toolChoice = choice;
  }
  if (body.response_format !== undefined) {
    const rf = body.response_format;
    if (rf.type === 'json_schema') {
      const js = rf.json_schema;
      request.responseFormat = { type: 'json_schema', name: js.name };
      if (js.schema !== undefined) request.responseFormat.schema = js.schema;
      if (js.description !== undefined) request.responseFormat.description = js.description;
      if (js.strict !== undefined && js.strict !== null) request.responseFormat.strict = js.strict;
    } else {
      request.responseFormat = { type: rf.type };
    }
  }
  return request;
}

function textParts(content: string | { type: 'text'; text: string }[]): ContentPart[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content.map((p) => ({ type: 'text', text: p.text }));
}

function messageFromOpenAI(m: OpenAIMessage): Message {
  switch (m.role) {
    case 'system':
    case 'developer': {
      const out: Message = { role: 'system', content: textParts(m.content) };
      if (m.name !== undefined) out.name = m.name;
      return out;
    }
    case 'user': {
      const content: ContentPart[] =
        typeof m.content === 'string'
          ? [{ type: 'text', text: m.content }]
          : m.content.map((p): ContentPart => {
              if (p.type === 'text') return { type: 'text', text: p.text };
              const image: ContentPart = { type: 'image', url: p.image_url.url };
              if (p.image_url.detail !== undefined) image.detail = p.image_url.detail;
              return image;
            });
      const out: Message = { role: 'user', content };
      if (m.name !== undefined) out.name = m.name;
      return out;
    }
    case 'assistant': {
      const content: ContentPart[] = [];
      if (typeof m.content === 'string') content.push({ type: 'text', text: m.content });
      else if (Array.isArray(m.content)) {
        for (const p of m.content) content.push({ type: 'text', text: p.type === 'text' ? p.text : p.refusal });
      }
      const out: Message = { role: 'assistant', content };
      if (m.name !== undefined) out.name = m.name;
      if (m.tool_calls !== undefined && m.tool_calls.length > 0) {
        out.toolCalls = m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
      }
      return out;
    }
    case 'tool':
      return { role: 'tool', content: textParts(m.content), toolCallId: m.tool_call_id };
  }
}

export function openAIUsage(usage: Usage): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

export function chatResponseToOpenAI(response: ChatResponse, model: string): object {
  const message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: object[] } = {
    role: 'assistant',
    content: response.content,
    refusal: null,
  };
  if (response.toolCalls.length > 0) {
    message.tool_calls = response.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  const out: { [key: string]: unknown } = {
    id: response.id,
    object: 'chat.completion',
    created: response.created,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: response.finishReason }],
  };
  if (response.usage !== undefined) out.usage = openAIUsage(response.usage);
  return out;
}

export function embeddingRequestFromOpenAI(body: OpenAIEmbeddingRequest): EmbeddingRequest {
  const request: EmbeddingRequest = { model: body.model, input: typeof body.input === 'string' ? [body.input] : body.input };
  if (body.dimensions !== undefined) request.dimensions = body.dimensions;
  if (body.user !== undefined) request.user = body.user;
  return request;
}

export function embeddingResponseToOpenAI(response: EmbeddingResponse, model: string, format: 'float' | 'base64'): object {
  return {
    object: 'list',
    model,
    data: response.vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? float32Base64(vector) : vector,
    })),
    usage: { prompt_tokens: response.usage.inputTokens, total_tokens: response.usage.inputTokens },
  };
}

/** OpenAI's base64 encoding: little-endian float32, which is what its SDK decodes. */
function float32Base64(vector: number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buf.writeFloatLE(vector[i] ?? 0, i * 4);
  return buf.toString('base64');
}

export function modelsToOpenAI(entries: readonly CatalogEntry[], created: number, deploymentId: string, peers: readonly PeerModel[] = []): object {
  return {
    object: 'list',
    data: [
      ...entries.map((e) => ({
        id: e.id,
        object: 'model',
        created,
        owned_by: e.backendId,
        perimeter: { tier: e.tier, backend: e.backendId, capability: e.capability, kind: e.kind, context_window: e.contextWindow, deployment: deploymentId, local: true },
      })),
      ...peers.map((m) => ({
        id: m.id,
        object: 'model',
        created,
        owned_by: m.deploymentId,
        perimeter: { tier: m.tier, capability: m.capability, kind: m.kind, context_window: m.contextWindow, deployment: m.deploymentId, local: false },
      })),
    ],
  };
}
