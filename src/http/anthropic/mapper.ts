import { GatewayError } from '../../domain/errors.js';
import type { ChatRequest, ChatResponse, ContentPart, FinishReason, Message, ToolCall } from '../../domain/chat.js';
import type { JsonValue } from '../../domain/json.js';
import type { CatalogEntry } from '../../route/catalog.js';
import type { PeerModel } from '../../federation/peer-models.js';
import { retrievalFrom } from '../retrieval-schema.js';
import type { AnthropicMessage, AnthropicMessagesRequest } from './schema.js';

type ImageSource = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

function imagePart(source: ImageSource): ContentPart {
  return { type: 'image', url: source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url };
}

export function chatRequestFromAnthropic(body: AnthropicMessagesRequest): ChatRequest {
  const messages: Message[] = [];
  if (body.system !== undefined) {
    const content: ContentPart[] =
      typeof body.system === 'string' ? [{ type: 'text', text: body.system }] : body.system.map((b) => ({ type: 'text', text: b.text }));
    messages.push({ role: 'system', content });
  }
  body.messages.forEach((m, i) => messages.push(...messagesFromAnthropic(m, i)));

  const anthropic: { [key: string]: JsonValue } = {};
  if (body.top_k !== undefined) anthropic.top_k = body.top_k;
  if (body.service_tier !== undefined) anthropic.service_tier = body.service_tier;

  const request: ChatRequest = {
    model: body.model,
    messages,
    stream: body.stream === true,
    // Anthropic streams always end with usage; the encoder decides how to show it.
    includeUsage: true,
    maxTokens: body.max_tokens,
    protocolParams: { anthropic },
  };
  if (body.perimeter !== undefined) request.retrieval = retrievalFrom(body.perimeter);
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.topP = body.top_p;
  if (body.stop_sequences !== undefined && body.stop_sequences.length > 0) request.stop = body.stop_sequences;
  const userId = body.metadata?.user_id;
  if (userId !== undefined && userId !== null) request.user = userId;
  if (body.tools !== undefined) {
    request.tools = body.tools.map((t) => {
      const def: NonNullable<ChatRequest['tools']>[number] = { name: t.name, parameters: t.input_schema };
      if (t.description !== undefined) def.description = t.description;
      return def;
    });
  }
  const choice = body.tool_choice;
  if (choice !== undefined) {
    if (choice.type === 'auto') request.toolChoice = 'auto';
    else if (choice.type === 'any') request.toolChoice = 'required';
    else if (choice.type === 'none') request.toolChoice = 'none';
    else request.toolChoice = { name: choice.name };
    if (choice.type !== 'none' && choice.disable_parallel_tool_use === true) request.parallelToolCalls = false;
  }
  return request;
}

/**
 * One Anthropic message can become several internal ones: tool results ride in
 * user messages there, but are messages of their own in the internal model.
 */
function messagesFromAnthropic(m: AnthropicMessage, index: number): Message[] {
  if (typeof m.content === 'string') return [{ role: m.role, content: [{ type: 'text', text: m.content }] }];
  const out: Message[] = [];
  const content: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  m.content.forEach((block, j) => {
    // As the Messages API itself rules: calls come from the assistant, results from the user.
    // Otherwise a call in a user message would be scanned but silently dropped on the way out.
    if ((block.type === 'tool_use' && m.role !== 'assistant') || (block.type === 'tool_result' && m.role !== 'user')) {
      const allowed = block.type === 'tool_use' ? 'assistant' : 'user';
      throw new GatewayError('invalid_request', `Invalid request: ${block.type} blocks are only allowed in ${allowed} messages.`, { param: `messages[${index}].content[${j}]` });
    }
    switch (block.type) {
      case 'text':
        content.push({ type: 'text', text: block.text });
        break;
      case 'image':
        content.push(imagePart(block.source));
        break;
      case 'tool_use':
        toolCalls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
        break;
      case 'tool_result': {
        const result: ContentPart[] =
          block.content === undefined
            ? []
            : typeof block.content === 'string'
              ? [{ type: 'text', text: block.content }]
              : block.content.map((b) => (b.type === 'text' ? { type: 'text', text: b.text } : imagePart(b.source)));
        const message: Message = { role: 'tool', content: result, toolCallId: block.tool_use_id };
        if (block.is_error === true) message.isError = true;
        out.push(message);
        break;
      }
    }
  });
  if (content.length > 0 || toolCalls.length > 0) {
    const message: Message = { role: m.role, content };
    if (toolCalls.length > 0) message.toolCalls = toolCalls;
    out.push(message);
  }
  return out;
}

export const STOP_REASON: Record<FinishReason, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
};

/** Anthropic message ids start with msg_; other upstreams' ids are kept but prefixed. */
export function anthropicId(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

/** Tool arguments as the JSON object Anthropic's tool_use.input must be. */
export function toolInput(args: string): JsonValue {
  try {
    const parsed: unknown = JSON.parse(args);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as JsonValue;
  } catch {
    // A model can emit broken JSON; Anthropic clients expect an object, so they get an empty one.
  }
  return {};
}

export function chatResponseToAnthropic(response: ChatResponse, model: string): object {
  const content: object[] = [];
  if (response.content !== null && response.content !== '') content.push({ type: 'text', text: response.content });
  for (const call of response.toolCalls) content.push({ type: 'tool_use', id: call.id, name: call.name, input: toolInput(call.arguments) });
  return {
    id: anthropicId(response.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: STOP_REASON[response.finishReason],
    stop_sequence: null,
    usage: { input_tokens: response.usage?.inputTokens ?? 0, output_tokens: response.usage?.outputTokens ?? 0 },
  };
}

export function modelsToAnthropic(entries: readonly CatalogEntry[], createdAt: string, deploymentId: string, peers: readonly PeerModel[] = []): object {
  const data = [
    ...entries
      .filter((e) => e.kind === 'chat')
      .map((e) => ({
        type: 'model',
        id: e.id,
        display_name: e.id,
        created_at: createdAt,
        perimeter: { tier: e.tier, backend: e.backendId, capability: e.capability, kind: e.kind, context_window: e.contextWindow, deployment: deploymentId, local: true },
      })),
    ...peers
      .filter((m) => m.kind === 'chat')
      .map((m) => ({
        type: 'model',
        id: m.id,
        display_name: m.id,
        created_at: createdAt,
        perimeter: { tier: m.tier, capability: m.capability, kind: m.kind, context_window: m.contextWindow, deployment: m.deploymentId, local: false },
      })),
  ];
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
}
