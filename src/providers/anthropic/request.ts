import { type ChatRequest, type ContentPart, type Message, type ToolChoice, type ToolDefinition, textOf } from '../../domain/chat.js';
import { GatewayError } from '../../domain/errors.js';
import type { JsonValue } from '../../domain/json.js';

/** The Anthropic Messages API wire shapes this provider sends. */
export type AnthropicImageSource = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

export type AnthropicTextBlock = { type: 'text'; text: string };
export type AnthropicImageBlock = { type: 'image'; source: AnthropicImageSource };
export type AnthropicToolUseBlock = { type: 'tool_use'; id: string; name: string; input: { [key: string]: JsonValue } };
export type AnthropicToolResultBlock = {
  type: 'tool_result';
  tool_use_id: string;
  content: string | Array<AnthropicTextBlock | AnthropicImageBlock>;
  is_error?: boolean;
};

export type AnthropicBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicToolUseBlock | AnthropicToolResultBlock;

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: { [key: string]: JsonValue };
}

export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export interface AnthropicBody {
  [key: string]: unknown;
  model: string;
  max_tokens: number;
  messages: AnthropicMessage[];
  system?: string;
  stream: boolean;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
}

/** Anthropic requires max_tokens; this is what a request without one gets. */
export const DEFAULT_MAX_TOKENS = 4096;

const DEFAULT_INPUT_SCHEMA: { [key: string]: JsonValue } = { type: 'object' };

/**
 * Internal request → Messages API body. `request.responseFormat` has no Messages
 * API equivalent and is not sent; clients that need it can use protocolParams.
 */
export function toAnthropicBody(request: ChatRequest, upstreamModel: string, stream: boolean): AnthropicBody {
  let system: string | undefined;
  const messages: AnthropicMessage[] = [];
  // The user message holding tool results just emitted, so the next result (or the
  // user's follow-up text) joins it: Anthropic wants all results of one turn in one message.
  let toolResults: AnthropicBlock[] | undefined;
  for (const message of request.messages) {
    switch (message.role) {
      case 'system': {
        const text = textOf(message.content);
        system = system === undefined ? text : `${system}\n\n${text}`;
        break;
      }
      case 'tool': {
        const block = toToolResult(message);
        if (toolResults === undefined) {
          toolResults = [block];
          messages.push({ role: 'user', content: toolResults });
        } else {
          toolResults.push(block);
        }
        break;
      }
      case 'user':
        if (toolResults !== undefined) {
          // Results must come first in the message; the follow-up text goes after them.
          for (const part of message.content) pushPart(toolResults, part);
          toolResults = undefined;
        } else {
          messages.push({ role: 'user', content: toContent(message.content) });
        }
        break;
      case 'assistant':
        toolResults = undefined;
        messages.push({ role: 'assistant', content: toAssistantContent(message) });
        break;
    }
  }
  const tools = request.tools;
  const hasTools = tools !== undefined && tools.length > 0;
  return {
    // Spread first so passthrough parameters (top_k, thinking, …) never override routing's decisions.
    ...request.protocolParams.anthropic,
    model: upstreamModel,
    max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    system,
    messages,
    stream,
    temperature: request.temperature,
    top_p: request.topP,
    stop_sequences: request.stop !== undefined && request.stop.length > 0 ? request.stop : undefined,
    tools: hasTools ? tools.map(toAnthropicTool) : undefined,
    tool_choice: hasTools ? toAnthropicToolChoice(request.toolChoice, request.parallelToolCalls) : undefined,
    metadata: request.user === undefined ? undefined : { user_id: request.user },
  };
}

/** A lone text part goes as a string: shorter, and identical in meaning. */
function toContent(content: ContentPart[]): string | AnthropicBlock[] {
  const first = content[0];
  if (content.length === 1 && first !== undefined && first.type === 'text') return first.text;
  const blocks: AnthropicBlock[] = [];
  for (const part of content) pushPart(blocks, part);
  return blocks;
}

function pushPart(blocks: AnthropicBlock[], part: ContentPart): void {
  if (part.type === 'image') blocks.push(toImageBlock(part.url));
  // Anthropic rejects empty text blocks, and they carry nothing.
  else if (part.text !== '') blocks.push({ type: 'text', text: part.text });
}

function toAssistantContent(message: Message): string | AnthropicBlock[] {
  const calls = message.toolCalls;
  if (calls === undefined || calls.length === 0) return toContent(message.content);
  const blocks: AnthropicBlock[] = [];
  for (const part of message.content) pushPart(blocks, part);
  for (const call of calls) blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: toolInput(call.arguments) });
  return blocks;
}

/** tool_use.input must be an object; a model's invalid arguments become {} rather than failing the whole turn. */
function toolInput(args: string): { [key: string]: JsonValue } {
  if (args === '') return {};
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { [key: string]: JsonValue }) : {};
  } catch {
    return {};
  }
}

function toToolResult(message: Message): AnthropicToolResultBlock {
  let textOnly = true;
  for (const part of message.content) if (part.type !== 'text') textOnly = false;
  let content: AnthropicToolResultBlock['content'];
  if (textOnly) content = textOf(message.content);
  else {
    const blocks: Array<AnthropicTextBlock | AnthropicImageBlock> = [];
    for (const part of message.content) {
      if (part.type === 'image') blocks.push(toImageBlock(part.url));
      else if (part.text !== '') blocks.push({ type: 'text', text: part.text });
    }
    content = blocks;
  }
  return { type: 'tool_result', tool_use_id: message.toolCallId ?? '', content, is_error: message.isError === true ? true : undefined };
}

/** data: URLs become base64 sources; http(s) URLs are left for Anthropic to fetch. */
function toImageBlock(url: string): AnthropicImageBlock {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    const meta = comma < 0 ? '' : url.slice(5, comma);
    if (!meta.endsWith(';base64')) {
      throw new GatewayError('invalid_request', 'image data URLs must be base64-encoded for this model');
    }
    return { type: 'image', source: { type: 'base64', media_type: meta.slice(0, -7), data: url.slice(comma + 1) } };
  }
  if (url.startsWith('https://') || url.startsWith('http://')) return { type: 'image', source: { type: 'url', url } };
  throw new GatewayError('invalid_request', 'image URLs must be https: or data: URLs');
}

function toAnthropicTool(tool: ToolDefinition): AnthropicTool {
  return { name: tool.name, description: tool.description, input_schema: tool.parameters ?? DEFAULT_INPUT_SCHEMA };
}

function toAnthropicToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  const disable = parallel === false ? true : undefined;
  if (choice === undefined) return disable === undefined ? undefined : { type: 'auto', disable_parallel_tool_use: true };
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', disable_parallel_tool_use: disable };
  if (choice === 'required') return { type: 'any', disable_parallel_tool_use: disable };
  return { type: 'tool', name: choice.name, disable_parallel_tool_use: disable };
}
