import type { ChatRequest, ContentPart, Message, ToolCall, ToolDefinition } from '../domain/chat.js';
import type { JsonValue } from '../domain/json.js';
import { numberRuns, parseJsonText, serializeJson, type JsonNode } from './json-text.js';

/**
 * Called once per text field, with exactly the path and text that `chatSegments`
 * (src/pipeline/segments.ts) gives the classifier, so finding offsets apply as is.
 * Returns the field's new text.
 *
 * For a `…#numbers` segment (the number literals of tool-call arguments, joined by
 * single spaces) the result must keep the same number of space-separated tokens; a
 * token that changed replaces its number literal with a JSON string of the new token.
 */
export type TextMapper = (path: string, text: string) => string;

/**
 * A copy of the request with every text field that `chatSegments` scans passed
 * through `fn`. The traversal mirrors chatSegments field by field: a field one visits
 * and the other does not would let unscanned text egress, so test/protect checks that
 * the two agree on random requests.
 *
 * Tool-call arguments that are JSON are rewritten token by token, so the JSON stays
 * valid and untouched numbers keep their precision. When an object repeats a key, only
 * the last member is scanned (JSON.parse keeps the last), so the earlier ones are
 * dropped from the output rather than sent unscanned.
 */
export function mapChatText(request: ChatRequest, fn: TextMapper): ChatRequest {
  const messages = request.messages.map((m, i) => mapMessage(m, `messages[${i}]`, fn));
  const out: ChatRequest = { ...request, messages };
  if (request.tools !== undefined) out.tools = request.tools.map((t, i) => mapTool(t, `tools[${i}]`, fn));
  if (request.toolChoice !== undefined && typeof request.toolChoice === 'object') {
    out.toolChoice = { ...request.toolChoice, name: fn('tool_choice.name', request.toolChoice.name) };
  }
  const rf = request.responseFormat;
  if (rf?.type === 'json_schema') {
    const next = { ...rf, name: fn('response_format.name', rf.name) };
    if (rf.description !== undefined) next.description = fn('response_format.description', rf.description);
    if (rf.schema !== undefined) next.schema = mapJsonObject(rf.schema, 'response_format.schema', fn);
    out.responseFormat = next;
  }
  if (request.stop !== undefined) out.stop = request.stop.map((s, i) => fn(`stop[${i}]`, s));
  if (request.user !== undefined) out.user = fn('user', request.user);
  const params: ChatRequest['protocolParams'] = {};
  for (const [protocol, value] of Object.entries(request.protocolParams) as Array<[keyof ChatRequest['protocolParams'], { [key: string]: JsonValue } | undefined]>) {
    params[protocol] = value === undefined ? undefined : mapJsonObject(value, protocol, fn);
  }
  out.protocolParams = params;
  return out;
}

function mapMessage(m: Message, base: string, fn: TextMapper): Message {
  const out: Message = { ...m };
  if (m.name !== undefined) out.name = fn(`${base}.name`, m.name);
  out.content = m.content.map((part, j): ContentPart => {
    if (part.type === 'text') return { ...part, text: fn(`${base}.content[${j}]`, part.text) };
    // data: URLs are opaque to the classifier (image bytes); remote URLs are text it scans.
    if (part.url.startsWith('data:')) return { ...part };
    return { ...part, url: fn(`${base}.content[${j}].url`, part.url) };
  });
  if (m.toolCalls !== undefined) {
    out.toolCalls = m.toolCalls.map((call, k): ToolCall => {
      const path = `${base}.tool_calls[${k}]`;
      const name = fn(`${path}.name`, call.name);
      return { ...call, name, arguments: mapJsonText(call.arguments, `${path}.arguments`, fn) };
    });
  }
  return out;
}

function mapTool(tool: ToolDefinition, base: string, fn: TextMapper): ToolDefinition {
  const out: ToolDefinition = { ...tool, name: fn(`${base}.name`, tool.name) };
  if (tool.description !== undefined) out.description = fn(`${base}.description`, tool.description);
  if (tool.parameters !== undefined) out.parameters = mapJsonObject(tool.parameters, `${base}.parameters`, fn);
  return out;
}

/** Mirrors jsonValueSegments with numbers: a number whose text changes becomes a string. */
function mapJsonValue(value: JsonValue, path: string, fn: TextMapper): JsonValue {
  if (typeof value === 'string') return value === '' ? value : fn(path, value);
  if (typeof value === 'number') {
    const text = String(value);
    const next = fn(path, text);
    return next === text ? value : next;
  }
  if (Array.isArray(value)) return value.map((v, i) => mapJsonValue(v, `${path}[${i}]`, fn));
  if (value !== null && typeof value === 'object') return mapJsonObject(value, path, fn);
  return value;
}

function mapJsonObject(value: { [key: string]: JsonValue }, path: string, fn: TextMapper): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, v] of Object.entries(value)) {
    const child = `${path}.${key}`;
    const newKey = fn(`${child}#key`, key);
    // defineProperty: a key such as "__proto__" must stay an own data property, as in the input.
    Object.defineProperty(out, newKey, { value: mapJsonValue(v, child, fn), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Tool-call arguments: JSON text, or (when not JSON) one opaque text. */
function mapJsonText(text: string, path: string, fn: TextMapper): string {
  const tree = parseJsonText(text);
  if (tree === undefined) return fn(path, text);
  const state = { changed: false };
  let mapped = mapNode(tree, path, fn, state);
  const runs = numberRuns(text);
  if (runs.length > 0) {
    const numbers = runs.map((r) => text.slice(r.start, r.end));
    const joined = numbers.join(' ');
    const next = fn(`${path}#numbers`, joined);
    if (next !== joined) {
      const tokens = next.split(' ');
      if (tokens.length !== numbers.length) {
        // The mapper broke the contract; refusing is safer than sending a number it meant to replace.
        throw new RangeError('#numbers mapper changed the number of tokens');
      }
      const replace = new Map<number, string>();
      tokens.forEach((tok, i) => {
        if (tok !== numbers[i]) replace.set(runs[i]!.start, tok);
      });
      mapped = replaceScalars(mapped, replace);
      state.changed = true;
    }
  }
  return state.changed ? serializeJson(mapped) : text;
}

/**
 * Visits like jsonValueSegments(parsed, path, out, false): strings and keys, numbers
 * not (they are the `#numbers` segment). Works on a copy of the tree.
 */
function mapNode(node: JsonNode, path: string, fn: TextMapper, state: { changed: boolean }): JsonNode {
  switch (node.kind) {
    case 'string': {
      if (node.value === '') return node;
      const next = fn(path, node.value);
      if (next === node.value) return node;
      state.changed = true;
      return { kind: 'string', value: next, raw: JSON.stringify(next) };
    }
    case 'number':
    case 'literal':
      return node;
    case 'array':
      return { kind: 'array', items: node.items.map((n, i) => mapNode(n, `${path}[${i}]`, fn, state)) };
    case 'object': {
      // JSON.parse keeps the last of repeated keys, and only that one was scanned.
      const last = new Map<string, number>();
      node.members.forEach((m, i) => last.set(m.key.value, i));
      const members = [];
      for (let i = 0; i < node.members.length; i++) {
        const m = node.members[i]!;
        if (last.get(m.key.value) !== i) {
          state.changed = true;
          continue;
        }
        const child = `${path}.${m.key.value}`;
        const key = fn(`${child}#key`, m.key.value);
        if (key !== m.key.value) state.changed = true;
        members.push({ key: key === m.key.value ? m.key : { raw: JSON.stringify(key), value: key }, value: mapNode(m.value, child, fn, state) });
      }
      return { kind: 'object', members };
    }
  }
}

/** Replaces the number or literal token containing each run start with a JSON string. */
function replaceScalars(node: JsonNode, replace: ReadonlyMap<number, string>): JsonNode {
  switch (node.kind) {
    case 'number':
    case 'literal':
      for (const [at, text] of replace) {
        if (at >= node.at && at < node.at + node.raw.length) return { kind: 'string', value: text, raw: JSON.stringify(text) };
      }
      return node;
    case 'string':
      return node;
    case 'array':
      return { kind: 'array', items: node.items.map((n) => replaceScalars(n, replace)) };
    case 'object':
      return { kind: 'object', members: node.members.map((m) => ({ key: m.key, value: replaceScalars(m.value, replace) })) };
  }
}
