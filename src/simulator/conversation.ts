import type { Directives } from './directives.js';

/**
 * What both chat protocols boil down to for the simulator. The reply is a pure
 * function of this, so the same conversation sent as OpenAI or as Anthropic
 * gets the same answer, which lets gateway tests compare protocols directly.
 */
export interface Turn {
  /** Text of the last user message that has text; directives are read from it. */
  lastUserText: string;
  /** Set when the conversation ends with tool results (joined with '\n'). */
  toolResultText: string | undefined;
  /** The last message is a user message that is not a tool result. */
  endsWithUser: boolean;
  /** Characters of all message text (system, user, assistant, tool results), for usage. */
  textChars: number;
  tools: ToolSpec[];
  toolChoice: ToolChoiceSpec;
}

export interface ToolSpec {
  name: string;
  /** JSON-schema `properties` of the arguments, when it is an object. */
  properties: Record<string, unknown> | undefined;
}

export type ToolChoiceSpec = 'auto' | 'none' | 'required' | { name: string };

export type ToolArguments = Record<string, string | number | boolean>;

export interface ReplyPlan {
  /** The reply text, or undefined when the reply is a tool call. */
  text: string | undefined;
  tool: { name: string; input: ToolArguments; arguments: string } | undefined;
  /** Streamed pieces: words of the text, or slices of the tool-call arguments. */
  pieces: string[];
  inputTokens: number;
  outputTokens: number;
}

export type PlanResult = { ok: true; plan: ReplyPlan } | { ok: false; message: string; param: string };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function planReply(turn: Turn, directives: Directives): PlanResult {
  const inputTokens = Math.max(1, Math.ceil(turn.textChars / 4));
  const tool = pickTool(turn);
  if (tool === null) {
    const name = typeof turn.toolChoice === 'object' ? turn.toolChoice.name : '';
    return { ok: false, message: `tool_choice names a tool that is not in tools: ${name}`, param: 'tool_choice' };
  }
  if (tool !== undefined) {
    const input = buildArguments(tool.properties, turn.lastUserText);
    const args = JSON.stringify(input);
    const pieces = splitInThree(args);
    return {
      ok: true,
      plan: { text: undefined, tool: { name: tool.name, input, arguments: args }, pieces, inputTokens, outputTokens: pieces.length },
    };
  }
  const text =
    turn.toolResultText !== undefined
      ? `Tool result: ${turn.toolResultText}`
      : (directives.reply ?? `You said: ${turn.lastUserText}`);
  const pieces = splitWords(text);
  return { ok: true, plan: { text, tool: undefined, pieces, inputTokens, outputTokens: pieces.length } };
}

/** undefined: answer with text; null: tool_choice names an unknown tool. */
function pickTool(turn: Turn): ToolSpec | undefined | null {
  if (turn.tools.length === 0 || turn.toolChoice === 'none' || !turn.endsWithUser) return undefined;
  const choice = turn.toolChoice;
  if (typeof choice === 'object') return turn.tools.find((t) => t.name === choice.name) ?? null;
  return turn.tools[0];
}

function buildArguments(properties: Record<string, unknown> | undefined, userText: string): ToolArguments {
  const out: ToolArguments = {};
  if (properties === undefined) return out;
  for (const [key, schema] of Object.entries(properties)) {
    if (!isRecord(schema)) continue;
    switch (schemaType(schema.type)) {
      case 'string':
        out[key] = userText;
        break;
      case 'number':
      case 'integer':
        out[key] = 1;
        break;
      case 'boolean':
        out[key] = true;
        break;
      default:
        break;
    }
  }
  return out;
}

/** JSON Schema allows type: ['string', 'null']; the first non-null entry decides. */
function schemaType(type: unknown): string | undefined {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    for (const t of type) if (typeof t === 'string' && t !== 'null') return t;
  }
  return undefined;
}

/** Each piece is a word plus the whitespace after it; leading whitespace rides with the first word. */
export function splitWords(text: string): string[] {
  const pieces: string[] = [];
  const n = text.length;
  let start = 0;
  let i = 0;
  while (i < n && isSpace(text.charCodeAt(i))) i++;
  while (i < n) {
    while (i < n && !isSpace(text.charCodeAt(i))) i++;
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    pieces.push(text.slice(start, i));
    start = i;
  }
  if (start < n) pieces.push(text.slice(start));
  return pieces;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 160 || code === 0x2028 || code === 0x2029 || code === 0x3000;
}

/**
 * Tool-call arguments go out in about three deltas so clients must reassemble
 * them; cuts never fall inside a surrogate pair.
 */
export function splitInThree(json: string): string[] {
  const parts = Math.min(3, json.length);
  if (parts <= 1) return [json];
  const size = Math.ceil(json.length / parts);
  const pieces: string[] = [];
  let start = 0;
  while (start < json.length) {
    let end = Math.min(json.length, start + size);
    const code = json.charCodeAt(end);
    if (end < json.length && code >= 0xdc00 && code <= 0xdfff) end++;
    pieces.push(json.slice(start, end));
    start = end;
  }
  return pieces;
}
