import type { Segment } from '../classify/types.js';
import type { ChatRequest, EmbeddingRequest } from '../domain/chat.js';
import type { JsonValue } from '../domain/json.js';
import { exceedsJsonDepth } from '../protect/json-text.js';

export interface Extracted {
  segments: Segment[];
  /** Parts whose content cannot be read as text (images); the policy sees their count. */
  opaqueParts: number;
}

/**
 * Every piece of text in a request that reaches a backend, with a field path. The
 * list mirrors what providers send: a field missing here would leave the gateway
 * unscanned, so when the internal model grows a field, it must be added here too.
 */
export function chatSegments(request: ChatRequest): Extracted {
  const segments: Segment[] = [];
  let opaqueParts = 0;
  request.messages.forEach((m, i) => {
    const base = `messages[${i}]`;
    if (m.name !== undefined) segments.push({ path: `${base}.name`, text: m.name });
    m.content.forEach((part, j) => {
      if (part.type === 'text') segments.push({ path: `${base}.content[${j}]`, text: part.text });
      else if (part.url.startsWith('data:')) opaqueParts += 1;
      else {
        // A remote image's URL is text the backend receives; its pixels are not.
        segments.push({ path: `${base}.content[${j}].url`, text: part.url });
        opaqueParts += 1;
      }
    });
    m.toolCalls?.forEach((call, k) => {
      const path = `${base}.tool_calls[${k}]`;
      segments.push({ path: `${path}.name`, text: call.name });
      jsonTextSegments(call.arguments, `${path}.arguments`, segments);
    });
  });
  request.tools?.forEach((tool, i) => {
    segments.push({ path: `tools[${i}].name`, text: tool.name });
    if (tool.description !== undefined) segments.push({ path: `tools[${i}].description`, text: tool.description });
    if (tool.parameters !== undefined) jsonValueSegments(tool.parameters, `tools[${i}].parameters`, segments);
  });
  if (request.toolChoice !== undefined && typeof request.toolChoice === 'object') {
    segments.push({ path: 'tool_choice.name', text: request.toolChoice.name });
  }
  const rf = request.responseFormat;
  if (rf?.type === 'json_schema') {
    segments.push({ path: 'response_format.name', text: rf.name });
    if (rf.description !== undefined) segments.push({ path: 'response_format.description', text: rf.description });
    if (rf.schema !== undefined) jsonValueSegments(rf.schema, 'response_format.schema', segments);
  }
  request.stop?.forEach((s, i) => segments.push({ path: `stop[${i}]`, text: s }));
  if (request.user !== undefined) segments.push({ path: 'user', text: request.user });
  for (const [protocol, params] of Object.entries(request.protocolParams)) {
    if (params !== undefined) jsonValueSegments(params, protocol, segments);
  }
  return { segments, opaqueParts };
}

export function embeddingSegments(request: EmbeddingRequest): Extracted {
  const segments = request.input.map((text, i) => ({ path: `input[${i}]`, text }));
  if (request.user !== undefined) segments.push({ path: 'user', text: request.user });
  return { segments, opaqueParts: 0 };
}

/**
 * Tool arguments are JSON text: scanning the string values (and keys) one by one
 * keeps detector offsets meaningful; text that is not valid JSON is scanned whole.
 */
function jsonTextSegments(text: string, path: string, out: Segment[]): void {
  // Too deep to walk without overflowing the stack, and the rewriter reads it as one string too.
  if (exceedsJsonDepth(text)) {
    out.push({ path, text });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    out.push({ path, text });
    return;
  }
  jsonValueSegments(parsed as JsonValue, path, out, false);
  // JSON.parse rounds integers past 2^53, which would break a card number's checksum;
  // number literals are taken from the raw text instead.
  const numbers = numberLiterals(text);
  if (numbers !== '') out.push({ path: `${path}#numbers`, text: numbers });
}

/** The number literals outside strings in JSON text, space-separated. */
function numberLiterals(json: string): string {
  let out = '';
  let inString = false;
  let start = -1;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92) i += 1; // a backslash escapes the next character
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    const numeric = (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;
    if (numeric && start < 0) start = i;
    if (!numeric && start >= 0) {
      out += (out === '' ? '' : ' ') + json.slice(start, i);
      start = -1;
    }
    if (c === 34) inString = true;
  }
  if (start >= 0) out += (out === '' ? '' : ' ') + json.slice(start);
  return out;
}

function jsonValueSegments(value: JsonValue, path: string, out: Segment[], withNumbers = true): void {
  if (typeof value === 'string') {
    if (value !== '') out.push({ path, text: value });
  } else if (typeof value === 'number') {
    if (!withNumbers) return;
    // Long digit runs (card or account numbers sent as JSON numbers) must not slip past.
    out.push({ path, text: String(value) });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => jsonValueSegments(v, `${path}[${i}]`, out, withNumbers));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      const child = `${path}.${key}`;
      out.push({ path: `${child}#key`, text: key });
      jsonValueSegments(v, child, out, withNumbers);
    }
  }
}
