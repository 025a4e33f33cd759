import type { JsonValue } from './json.js';

/**
 * The gateway's one internal request/response model. Both ingress protocols map
 * into it and every provider maps out of it, so N protocols need N mappers, not N².
 */
export type Role = 'system' | 'user' | 'assistant' | 'tool';

export type ContentPart =
  | { type: 'text'; text: string }
  /** url is an https: or data: URL; detail is OpenAI's hint and ignored elsewhere. */
  | { type: 'image'; url: string; detail?: string };

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text exactly as the model produced it; it may be invalid JSON. */
  arguments: string;
}

export interface Message {
  role: Role;
  content: ContentPart[];
  name?: string;
  /** Present on assistant messages that called tools. */
  toolCalls?: ToolCall[];
  /** Present on tool messages: the call this message answers. */
  toolCallId?: string;
  /** Tool results may be flagged as errors (Anthropic's is_error). */
  isError?: boolean;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters?: { [key: string]: JsonValue };
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema?: { [key: string]: JsonValue }; strict?: boolean; description?: string };

export interface ChatRequest {
  /** The model id the client asked for, as listed by /v1/models. */
  model: string;
  messages: Message[];
  stream: boolean;
  /** Whether the client wants a usage chunk at the end of a stream. */
  includeUsage: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  /** End-user id for abuse tracking upstream. */
  user?: string;
  /**
   * Parameters that only one protocol understands (OpenAI's seed or logit_bias,
   * Anthropic's top_k). A provider forwards the ones under its own protocol's key
   * and ignores the rest, since they have no meaning there.
   */
  protocolParams: { openai?: { [key: string]: JsonValue }; anthropic?: { [key: string]: JsonValue } };
  /** Retrieval-augmented generation from knowledge Bases; consumed by the gateway, never forwarded. */
  retrieval?: RetrievalRequest;
}

export interface RetrievalRequest {
  bases: string[];
  /** Defaults to the last user message. */
  query?: string;
  limit?: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** True when the numbers are the gateway's tokenizer estimate, not the upstream's count. */
  estimated?: boolean;
}

export interface ChatResponse {
  id: string;
  /** The upstream's model id. */
  model: string;
  created: number;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage?: Usage;
}

/** The events a streaming provider yields, in order: start, then deltas, then finish, then usage. */
export type Chunk =
  | { type: 'start'; id: string; model: string; created: number }
  | { type: 'text'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; index: number; arguments: string }
  | { type: 'finish'; reason: FinishReason }
  | { type: 'usage'; usage: Usage };

export interface EmbeddingRequest {
  model: string;
  input: string[];
  dimensions?: number;
  user?: string;
}

export interface EmbeddingResponse {
  model: string;
  vectors: number[][];
  usage: Usage;
}

export function textOf(content: ContentPart[]): string {
  let out = '';
  for (const part of content) if (part.type === 'text') out += part.text;
  return out;
}
