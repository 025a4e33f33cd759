import { z } from 'zod';
import type { Classification } from '../../classify/types.js';
import type { ClassifyStep } from '../../pipeline/classify-step.js';
import { chatRequestFromOpenAI } from '../openai/mapper.js';
import { openAIChatRequest } from '../openai/schema.js';
import { parseBody } from '../validate.js';

/** What can be classified: free text, or a chat request in OpenAI's shape (model optional). */
export const classifyInput = z.union([
  z.strictObject({ text: z.string() }),
  openAIChatRequest.extend({ model: z.string().optional() }),
]);

export interface ClassifyOutput {
  level: string;
  findings: { entity: string; path: string; start: number; end: number; score: number; detector: string }[];
  reasons: string[];
}

/** Parses one input and classifies it exactly as serving would. Throws invalid_request on bad input. */
export function classifyWire(step: ClassifyStep, body: unknown, labels: readonly string[]): ClassifyOutput {
  const input = parseBody(classifyInput, body);
  const classification = 'text' in input ? step.text(input.text, labels) : step.chat(chatRequestFromOpenAI({ ...input, model: input.model ?? '' }), labels);
  return present(classification);
}

function present(c: Classification): ClassifyOutput {
  return {
    level: c.level,
    findings: c.findings.map((f) => ({ entity: f.entity, path: f.path, start: f.start, end: f.end, score: round(f.score), detector: f.detector })),
    reasons: c.reasons,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
