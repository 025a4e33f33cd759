import type { ChatRequest, EmbeddingRequest, Usage } from '../domain/chat.js';

/** Counts tokens locally when an upstream reports no usage. Numbers out, never text. */
export interface TokenEstimator {
  count(text: string): number;
  /** Usage for a chat exchange, marked estimated. `output` is the completion text (or null). */
  chat(request: ChatRequest, output: string | null): Usage;
  embedding(request: EmbeddingRequest): Usage;
}

// Per-message framing tokens in OpenAI's chat format (role markers, separators).
const PER_MESSAGE = 3;
const REPLY_PRIMER = 3;

/**
 * Loads gpt-tokenizer's o200k_base encoding. It is several megabytes of ranks, so it
 * is imported on demand, not at module load; await this once at startup.
 */
export async function loadTokenEstimator(): Promise<TokenEstimator> {
  const { countTokens } = await import('gpt-tokenizer');
  // Special-token text in a prompt is just text here; the default would throw on it.
  const options = { disallowedSpecial: new Set<string>() };
  const count = (text: string): number => (text === '' ? 0 : countTokens(text, options));
  return {
    count,
    chat(request, output) {
      let input = REPLY_PRIMER;
      for (const m of request.messages) {
        input += PER_MESSAGE + count(m.role);
        for (const part of m.content) if (part.type === 'text') input += count(part.text);
        for (const call of m.toolCalls ?? []) input += count(call.name) + count(call.arguments);
        if (m.name !== undefined) input += count(m.name) + 1;
      }
      for (const tool of request.tools ?? []) input += count(tool.name) + count(tool.description ?? '') + count(JSON.stringify(tool.parameters ?? {}));
      return { inputTokens: input, outputTokens: output === null ? 0 : count(output), estimated: true };
    },
    embedding(request) {
      let input = 0;
      for (const text of request.input) input += count(text);
      return { inputTokens: input, outputTokens: 0, estimated: true };
    },
  };
}
