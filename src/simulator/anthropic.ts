import { isRecord, planReply, type ReplyPlan, type ToolChoiceSpec, type ToolSpec, type Turn } from './conversation.js';
import type { SimContext } from './context.js';
import { parseDirectives } from './directives.js';
import type { Exchange, StreamScript } from './exchange.js';
import { listedModels } from './openai.js';

function errorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Anthropic's error envelope. */
export function anthropicError(status: number, message: string): string {
  return JSON.stringify({ type: 'error', error: { type: errorType(status), message } });
}

type Invalid = { message: string };

function blocksText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const block of content) {
    if (isRecord(block) && block.type === 'text' && typeof block.text === 'string') out += block.text;
  }
  return out;
}

function readTurn(body: Record<string, unknown>): Turn | Invalid {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return { message: 'messages: must be a non-empty array' };
  let textChars = blocksText(body.system).length;
  let lastUserText = '';
  let lastRole = '';
  let lastResults: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isRecord(message) || typeof message.role !== 'string') {
      return { message: `messages.${i}: must be an object with a string role` };
    }
    const content = message.content;
    let text = '';
    let hasText = false;
    const results: string[] = [];
    if (typeof content === 'string') {
      text = content;
      hasText = true;
    } else if (Array.isArray(content)) {
      for (const block of content) {
        if (!isRecord(block)) continue;
        if (block.type === 'text' && typeof block.text === 'string') {
          text += block.text;
          hasText = true;
        } else if (block.type === 'tool_result') {
          const result = blocksText(block.content);
          results.push(result);
          textChars += result.length;
        }
      }
    } else {
      return { message: `messages.${i}.content: must be a string or an array of content blocks` };
    }
    textChars += text.length;
    // A user turn holding only tool results is not what the user "said"; skipping it keeps the
    // echo identical to the OpenAI shape of the same conversation, where results are tool messages.
    if (message.role === 'user' && hasText) lastUserText = text;
    lastRole = message.role;
    lastResults = results;
  }
  const tools = readTools(body.tools);
  if (!Array.isArray(tools)) return tools;
  const toolChoice = readToolChoice(body.tool_choice);
  if (toolChoice === undefined) return { message: 'tool_choice: invalid value' };
  const endsWithResults = lastRole === 'user' && lastResults.length > 0;
  return {
    lastUserText,
    toolResultText: endsWithResults ? lastResults.join('\n') : undefined,
    endsWithUser: lastRole === 'user' && !endsWithResults,
    textChars,
    tools,
    toolChoice,
  };
}

function readTools(value: unknown): ToolSpec[] | Invalid {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return { message: 'tools: must be an array' };
  const tools: ToolSpec[] = [];
  for (let i = 0; i < value.length; i++) {
    const tool: unknown = value[i];
    if (!isRecord(tool) || typeof tool.name !== 'string') return { message: `tools.${i}.name: Field required` };
    const schema = tool.input_schema;
    tools.push({ name: tool.name, properties: isRecord(schema) && isRecord(schema.properties) ? schema.properties : undefined });
  }
  return tools;
}

function readToolChoice(value: unknown): ToolChoiceSpec | undefined {
  if (value === undefined || value === null) return 'auto';
  if (!isRecord(value)) return undefined;
  switch (value.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return typeof value.name === 'string' ? { name: value.name } : undefined;
    default:
      return undefined;
  }
}

/** Handles POST /v1/messages. */
export function handleMessages(ex: Exchange, sim: SimContext, body: unknown): void {
  if (!isRecord(body)) {
    ex.sendError(400, anthropicError(400, 'The request body must be a JSON object.'));
    return;
  }
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0) {
    ex.sendError(400, anthropicError(400, 'model: Field required'));
    return;
  }
  // The real API rejects requests without max_tokens; so does the simulator, to catch mappers that forget it.
  const maxTokens = body.max_tokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    ex.sendError(400, anthropicError(400, 'max_tokens: Field required (a positive integer)'));
    return;
  }
  const turn = readTurn(body);
  if (!('tools' in turn)) {
    ex.sendError(400, anthropicError(400, turn.message));
    return;
  }
  if (sim.chatModels !== undefined && !sim.chatModels.has(model)) {
    ex.sendError(404, anthropicError(404, `model: ${model}`));
    return;
  }
  const parsed = parseDirectives(turn.lastUserText);
  if (!parsed.ok) {
    ex.sendError(400, anthropicError(400, parsed.message));
    return;
  }
  const directives = parsed.directives;
  const planned = planReply(turn, directives);
  if (!planned.ok) {
    ex.sendError(400, anthropicError(400, `${planned.param}: ${planned.message}`));
    return;
  }
  const plan = planned.plan;
  const stream = body.stream === true;
  ex.after(sim.latencyMs + (directives.delayMs ?? 0), () => {
    if (directives.status !== undefined) {
      ex.sendError(directives.status, anthropicError(directives.status, `Simulated upstream error (status ${directives.status})`));
      return;
    }
    const id = sim.ids.next('msg_01');
    const faults = { dropAfter: directives.dropAfter, stallAfter: directives.stallAfter };
    if (stream) ex.stream(streamScript(sim, plan, id, model), sim.ttftMs, sim.tokensPerSecond, faults);
    else ex.sendJsonWithFaults(messageJson(sim, plan, id, model), faults);
  });
}

function usage(inputTokens: number, outputTokens: number): Record<string, number> {
  return { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens };
}

function messageJson(sim: SimContext, plan: ReplyPlan, id: string, model: string): string {
  const content =
    plan.tool === undefined
      ? [{ type: 'text', text: plan.text ?? '' }]
      : [{ type: 'tool_use', id: sim.ids.next('toolu_01'), name: plan.tool.name, input: plan.tool.input }];
  return JSON.stringify({
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: plan.tool === undefined ? 'end_turn' : 'tool_use',
    stop_sequence: null,
    usage: usage(plan.inputTokens, plan.outputTokens),
  });
}

function event(name: string, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`;
}

function streamScript(sim: SimContext, plan: ReplyPlan, id: string, model: string): StreamScript {
  const start = {
    type: 'message_start',
    // Like the real API, message_start reports a provisional output count; message_delta carries the total.
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usage(plan.inputTokens, 1) },
  };
  const block =
    plan.tool === undefined
      ? { type: 'text', text: '' }
      : { type: 'tool_use', id: sim.ids.next('toolu_01'), name: plan.tool.name, input: {} };
  const head =
    event('message_start', JSON.stringify(start)) +
    event('content_block_start', JSON.stringify({ type: 'content_block_start', index: 0, content_block: block })) +
    event('ping', '{"type":"ping"}');
  const open =
    plan.tool === undefined
      ? 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
      : 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":';
  const pieces = new Array<string>(plan.pieces.length);
  for (let i = 0; i < plan.pieces.length; i++) pieces[i] = `${open}${JSON.stringify(plan.pieces[i])}}}\n\n`;
  const stopReason = plan.tool === undefined ? 'end_turn' : 'tool_use';
  const tail =
    event('content_block_stop', '{"type":"content_block_stop","index":0}') +
    event(
      'message_delta',
      `{"type":"message_delta","delta":{"stop_reason":"${stopReason}","stop_sequence":null},"usage":{"output_tokens":${plan.outputTokens}}}`,
    ) +
    event('message_stop', '{"type":"message_stop"}');
  return { head, pieces, tail };
}

export function anthropicModelsJson(sim: SimContext, createdAt: string): string {
  const data = listedModels(sim).map((id) => ({ type: 'model', id, display_name: id, created_at: createdAt }));
  return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null });
}
