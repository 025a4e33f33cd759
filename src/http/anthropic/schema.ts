import { z } from 'zod';
import { perimeterExtension } from '../retrieval-schema.js';

/**
 * Anthropic Messages request body, as accepted at the edge. Strict for the same
 * reason as the OpenAI schema: an unknown field would reach a backend unscanned.
 * `cache_control` is accepted and dropped; it is a caching hint that carries no data.
 */
const cacheControl = z.strictObject({ type: z.literal('ephemeral'), ttl: z.string().optional() }).nullable().optional();

const textBlock = z.strictObject({ type: z.literal('text'), text: z.string(), cache_control: cacheControl });
const imageBlock = z.strictObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('base64'),
      media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']),
      data: z.string().min(1),
    }),
    z.strictObject({ type: z.literal('url'), url: z.string().min(1) }),
  ]),
  cache_control: cacheControl,
});
const toolUseBlock = z.strictObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.json()),
  cache_control: cacheControl,
});
const toolResultBlock = z.strictObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textBlock, imageBlock]))]).optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});

const contentBlock = z.discriminatedUnion('type', [textBlock, imageBlock, toolUseBlock, toolResultBlock]);

export const anthropicMessage = z.strictObject({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(contentBlock)]),
});

const tool = z.strictObject({
  type: z.literal('custom').optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, { message: 'must be 1-64 letters, digits, "_" or "-"' }),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.json()),
  cache_control: cacheControl,
});

const toolChoice = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal('none') }),
]);

export const anthropicMessagesRequest = z.strictObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(anthropicMessage).min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().nonnegative().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  metadata: z.strictObject({ user_id: z.string().nullable().optional(), perimeter_sensitivity: z.string().optional() }).optional(),
  service_tier: z.enum(['auto', 'standard_only']).optional(),
  /** Perimeter's own extension (retrieval from Bases); never forwarded. */
  perimeter: perimeterExtension.optional(),
});

export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequest>;
export type AnthropicMessage = z.infer<typeof anthropicMessage>;
