import type { ChatRequest } from '../../domain/chat.js';

/** Flat allowance per image part; providers bill images by size, which is not known here. */
const IMAGE_TOKENS = 1_000;
/** Role markers and separators each message costs on top of its text. */
const MESSAGE_OVERHEAD = 4;

/**
 * A deliberately high token estimate for the reservation: one token per three
 * characters (English averages about four) plus the most the model may answer. An
 * overestimate only holds budget briefly — reconcile gives the difference back —
 * while an underestimate would let concurrent requests overshoot the cap.
 */
export function estimateChatTokens(request: ChatRequest, defaultMaxOutputTokens: number): { input: number; output: number } {
  let chars = 0;
  let images = 0;
  for (const m of request.messages) {
    for (const part of m.content) {
      if (part.type === 'text') chars += part.text.length;
      else images += 1;
    }
    for (const call of m.toolCalls ?? []) chars += call.name.length + call.arguments.length;
  }
  for (const tool of request.tools ?? []) chars += JSON.stringify(tool).length;
  const input = Math.ceil(chars / 3) + images * IMAGE_TOKENS + request.messages.length * MESSAGE_OVERHEAD;
  return { input, output: request.maxTokens ?? defaultMaxOutputTokens };
}
