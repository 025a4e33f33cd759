import { isRecord, planReply, type ReplyPlan, type ToolChoiceSpec, type ToolSpec, type Turn } from './conversation.js';
import type { SimContext } from './context.js';
import { parseDirectives, type Directives } from './directives.js';
import { embed, toBase64, toNumbers } from './embeddings.js';
import type { Exchange, StreamScript } from './exchange.js';

/** OpenAI's error envelope; the SDK reads message/type/param/code from it. */
export function openaiError(status: number, message: string, param: string | null = null, code: string | null = null): string {
  let type = 'invalid_request_error';
  if (status === 429) type = 'requests';
  else if (status >= 500) type = 'server_error';
  return JSON.stringify({ error: { message, type, param, code } });
}

export function openaiSimulatedError(status: number): string {
  return openaiError(status, `Simulated upstream error (status ${status})`, null, status === 429 ? 'rate_limit_exceeded' : null);
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') out += part.text;
  }
  return out;
}

type Invalid = { message: string; param: string };

function readTurn(body: Record<string, unknown>): Turn | Invalid {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    return { message: "'messages' must be a non-empty array", param: 'messages' };
  }
  let textChars = 0;
  let lastUserText = '';
  let trailingToolText: string | undefined;
  let lastRole = '';
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isRecord(message) || typeof message.role !== 'string') {
      return { message: `messages[${i}] must be an object with a string 'role'`, param: `messages.[${i}]` };
    }
    const text = contentText(message.content);
    textChars += text.length;
    lastRole = message.role;
    if (message.role === 'user') lastUserText = text;
    if (message.role === 'tool') {
      // Parallel tool calls come back as consecutive tool messages; they answer together.
      trailingToolText = trailingToolText === undefined ? text : `${trailingToolText}\n${text}`;
    } else {
      trailingToolText = undefined;
    }
  }
  const tools = readTools(body.tools);
  if (!Array.isArray(tools)) return tools;
  const toolChoice = readToolChoice(body.tool_choice);
  if (toolChoice === undefined) return { message: "'tool_choice' is not valid", param: 'tool_choice' };
  return {
    lastUserText,
    toolResultText: lastRole === 'tool' ? trailingToolText : undefined,
    endsWithUser: lastRole === 'user',
    textChars,
    tools,
    toolChoice,
  };
}

function readTools(value: unknown): ToolSpec[] | Invalid {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return { message: "'tools' must be an array", param: 'tools' };
  const tools: ToolSpec[] = [];
  for (let i = 0; i < value.length; i++) {
    const tool: unknown = value[i];
    const fn = isRecord(tool) ? tool.function : undefined;
    if (!isRecord(fn) || typeof fn.name !== 'string') {
      return { message: `tools[${i}] must have function.name`, param: `tools.[${i}]` };
    }
    const parameters = fn.parameters;
    const properties = isRecord(parameters) && isRecord(parameters.properties) ? parameters.properties : undefined;
    tools.push({ name: fn.name, properties });
  }
  return tools;
}

function readToolChoice(value: unknown): ToolChoiceSpec | undefined {
  if (value === undefined || value === null) return 'auto';
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (isRecord(value) && isRecord(value.function) && typeof value.function.name === 'string') {
    return { name: value.function.name };
  }
  return undefined;
}

/** Handles /v1/chat/completions and Azure's per-deployment equivalent (deployment = model). */
export function handleChat(ex: Exchange, sim: SimContext, body: unknown, deployment: string | undefined): void {
  if (!isRecord(body)) {
    ex.sendError(400, openaiError(400, 'The request body must be a JSON object.'));
    return;
  }
  const model = deployment ?? body.model;
  if (typeof model !== 'string' || model.length === 0) {
    ex.sendError(400, openaiError(400, 'you must provide a model parameter', 'model'));
    return;
  }
  const turn = readTurn(body);
  if ('param' in turn) {
    ex.sendError(400, openaiError(400, turn.message, turn.param));
    return;
  }
  if (sim.chatModels !== undefined && !sim.chatModels.has(model)) {
    ex.sendError(404, openaiError(404, `The model \`${model}\` does not exist or you do not have access to it.`, null, 'model_not_found'));
    return;
  }
  const parsed = parseDirectives(turn.lastUserText);
  if (!parsed.ok) {
    ex.sendError(400, openaiError(400, parsed.message, 'messages'));
    return;
  }
  const directives = parsed.directives;
  const planned = planReply(turn, directives);
  if (!planned.ok) {
    ex.sendError(400, openaiError(400, planned.message, planned.param));
    return;
  }
  const plan = planned.plan;
  const stream = body.stream === true;
  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  ex.after(sim.latencyMs + (directives.delayMs ?? 0), () => {
    if (directives.status !== undefined) {
      ex.sendError(directives.status, openaiSimulatedError(directives.status));
      return;
    }
    const id = sim.ids.next('chatcmpl-');
    const created = Math.floor(Date.now() / 1000);
    if (stream) {
      ex.stream(streamScript(sim, plan, id, model, created, includeUsage), sim.ttftMs, sim.tokensPerSecond, faults(directives));
    } else {
      ex.sendJsonWithFaults(completionJson(sim, plan, id, model, created), faults(directives));
    }
  });
}

function faults(directives: Directives): { dropAfter: number | undefined; stallAfter: number | undefined } {
  return { dropAfter: directives.dropAfter, stallAfter: directives.stallAfter };
}

function usageOf(plan: ReplyPlan): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return {
    prompt_tokens: plan.inputTokens,
    completion_tokens: plan.outputTokens,
    total_tokens: plan.inputTokens + plan.outputTokens,
  };
}

function completionJson(sim: SimContext, plan: ReplyPlan, id: string, model: string, created: number): string {
  const message =
    plan.tool === undefined
      ? { role: 'assistant', content: plan.text ?? '', refusal: null }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [{ id: sim.ids.next('call_'), type: 'function', function: { name: plan.tool.name, arguments: plan.tool.arguments } }],
        };
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.tool === undefined ? 'stop' : 'tool_calls' }],
    usage: usageOf(plan),
  });
}

function streamScript(sim: SimContext, plan: ReplyPlan, id: string, model: string, created: number, includeUsage: boolean): StreamScript {
  // Every chunk shares this envelope, so it is serialised once and only the delta varies.
  const open = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
  const close = ',"logprobs":null,"finish_reason":null}]}\n\n';
  const pieces = new Array<string>(plan.pieces.length);
  let head: string;
  let finishReason: string;
  if (plan.tool === undefined) {
    head = `${open}{"role":"assistant","content":"","refusal":null}${close}`;
    for (let i = 0; i < plan.pieces.length; i++) pieces[i] = `${open}{"content":${JSON.stringify(plan.pieces[i])}}${close}`;
    finishReason = 'stop';
  } else {
    const call = { index: 0, id: sim.ids.next('call_'), type: 'function', function: { name: plan.tool.name, arguments: '' } };
    head = `${open}${JSON.stringify({ role: 'assistant', content: null, tool_calls: [call] })}${close}`;
    for (let i = 0; i < plan.pieces.length; i++) {
      pieces[i] = `${open}{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(plan.pieces[i])}}}]}${close}`;
    }
    finishReason = 'tool_calls';
  }
  let tail = `${open}{},"logprobs":null,"finish_reason":"${finishReason}"}]}\n\n`;
  if (includeUsage) {
    tail += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageOf(plan) })}\n\n`;
  }
  tail += 'data: [DONE]\n\n';
  return { head, pieces, tail };
}

const MAX_DIMENSIONS = 16384;

/** Handles /v1/embeddings and Azure's per-deployment equivalent. */
export function handleEmbeddings(ex: Exchange, sim: SimContext, body: unknown, deployment: string | undefined): void {
  if (!isRecord(body)) {
    ex.sendError(400, openaiError(400, 'The request body must be a JSON object.'));
    return;
  }
  const model = deployment ?? body.model;
  if (typeof model !== 'string' || model.length === 0) {
    ex.sendError(400, openaiError(400, 'you must provide a model parameter', 'model'));
    return;
  }
  const inputs = readEmbeddingInputs(body.input);
  if (inputs === undefined) {
    ex.sendError(400, openaiError(400, "'input' must be a string, an array of strings, or token arrays", 'input'));
    return;
  }
  const dimensions = body.dimensions ?? 8;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    ex.sendError(400, openaiError(400, `'dimensions' must be an integer between 1 and ${MAX_DIMENSIONS}`, 'dimensions'));
    return;
  }
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    ex.sendError(400, openaiError(400, "'encoding_format' must be 'float' or 'base64'", 'encoding_format'));
    return;
  }
  if (sim.embeddingModels !== undefined && !sim.embeddingModels.has(model)) {
    ex.sendError(404, openaiError(404, `The model \`${model}\` does not exist or you do not have access to it.`, null, 'model_not_found'));
    return;
  }
  const parsed = parseDirectives(inputs.directiveText);
  if (!parsed.ok) {
    ex.sendError(400, openaiError(400, parsed.message, 'input'));
    return;
  }
  const directives = parsed.directives;
  ex.after(sim.latencyMs + (directives.delayMs ?? 0), () => {
    if (directives.status !== undefined) {
      ex.sendError(directives.status, openaiSimulatedError(directives.status));
      return;
    }
    const data = new Array<{ object: 'embedding'; index: number; embedding: number[] | string }>(inputs.keys.length);
    for (let i = 0; i < inputs.keys.length; i++) {
      const vector = embed(inputs.keys[i] ?? '', dimensions);
      data[i] = { object: 'embedding', index: i, embedding: format === 'base64' ? toBase64(vector) : toNumbers(vector) };
    }
    const tokens = Math.max(1, inputs.tokens);
    const json = JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    ex.sendJsonWithFaults(json, faults(directives));
  });
}

interface EmbeddingInputs {
  /** One hash key per input; token arrays are keyed by their numbers. */
  keys: string[];
  tokens: number;
  /** String inputs joined, where directives are looked for. */
  directiveText: string;
}

function readEmbeddingInputs(input: unknown): EmbeddingInputs | undefined {
  if (typeof input === 'string') return { keys: [input], tokens: Math.ceil(input.length / 4), directiveText: input };
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((x) => typeof x === 'number')) {
    return { keys: [input.join(',')], tokens: input.length, directiveText: '' };
  }
  const keys: string[] = [];
  let chars = 0;
  let tokens = 0;
  let directiveText = '';
  for (const item of input) {
    if (typeof item === 'string') {
      keys.push(item);
      chars += item.length;
      directiveText += `${item}\n`;
    } else if (Array.isArray(item) && item.length > 0 && item.every((x) => typeof x === 'number')) {
      keys.push(item.join(','));
      tokens += item.length;
    } else {
      return undefined;
    }
  }
  return { keys, tokens: tokens + Math.ceil(chars / 4), directiveText };
}

export function modelsJson(sim: SimContext, created: number): string {
  return JSON.stringify({
    object: 'list',
    data: listedModels(sim).map((id) => ({ id, object: 'model', created, owned_by: sim.name })),
  });
}

export function listedModels(sim: SimContext): string[] {
  const ids = new Set<string>();
  for (const id of sim.chatModels ?? []) ids.add(id);
  for (const id of sim.embeddingModels ?? []) ids.add(id);
  return [...ids];
}
