import { z } from 'zod';
import { perimeterExtension } from '../retrieval-schema.js';

/**
 * OpenAI Chat Completions and Embeddings request bodies, as accepted at the edge.
 * Unknown parameters are refused rather than forwarded: a field the gateway does
 * not know is a field the classifier would not scan.
 */
const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.strictObject({
  type: z.literal('image_url'),
  image_url: z.strictObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
});
const refusalPart = z.strictObject({ type: z.literal('refusal'), refusal: z.string() });

const textContent = z.union([z.string(), z.array(textPart)]);
const userContent = z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, imagePart]))]);

const toolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
});

const systemMessage = z.strictObject({ role: z.enum(['system', 'developer']), content: textContent, name: z.string().optional() });
const userMessage = z.strictObject({ role: z.literal('user'), content: userContent, name: z.string().optional() });
const assistantMessage = z.strictObject({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart])), z.null()]).optional(),
  name: z.string().optional(),
  refusal: z.string().nullable().optional(),
  tool_calls: z.array(toolCall).optional(),
});
const toolMessage = z.strictObject({ role: z.literal('tool'), content: textContent, tool_call_id: z.string().min(1) });

export const openAIMessage = z.discriminatedUnion('role', [systemMessage, userMessage, assistantMessage, toolMessage]);

const jsonObject = z.record(z.string(), z.json());

const tool = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, { message: 'must be 1-64 letters, digits, "_" or "-"' }),
    description: z.string().optional(),
    parameters: jsonObject.optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string().min(1) }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    json_schema: z.strictObject({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: jsonObject.optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

const probability = z.number().min(0).max(2);

export const openAIChatRequest = z.strictObject({
  model: z.string().min(1),
  messages: z.array(openAIMessage).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  temperature: probability.nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  n: z.literal(1, { message: 'only n=1 is supported' }).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  user: z.string().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  service_tier: z.string().nullable().optional(),
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullable().optional(),
  store: z.boolean().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  /** Perimeter's own extension (retrieval from Bases); never forwarded. */
  perimeter: perimeterExtension.optional(),
});

export type OpenAIChatRequest = z.infer<typeof openAIChatRequest>;
export type OpenAIMessage = z.infer<typeof openAIMessage>;

export const openAIEmbeddingRequest = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)], {
    message: 'must be a string or an array of strings (token arrays are not accepted: they cannot be classified)',
  }),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export type OpenAIEmbeddingRequest = z.infer<typeof openAIEmbeddingRequest>;
