import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicError, anthropicModelsJson, handleMessages } from './anthropic.js';
import type { SimContext } from './context.js';
import { Exchange } from './exchange.js';
import { IdSource } from './ids.js';
import { handleChat, handleEmbeddings, modelsJson, openaiError } from './openai.js';
import { Recorder } from './recorder.js';
import type { ReceivedRequest, SimulatorHandle, SimulatorOptions } from './types.js';

type RouteKind = 'chat' | 'embeddings' | 'models' | 'messages';

interface Route {
  kind: RouteKind;
  method: 'GET' | 'POST';
  /** Azure deployment name from the path; it stands in for the model. */
  deployment: string | undefined;
  azure: boolean;
}

const CHAT: Route = { kind: 'chat', method: 'POST', deployment: undefined, azure: false };
const EMBEDDINGS: Route = { kind: 'embeddings', method: 'POST', deployment: undefined, azure: false };
const MODELS: Route = { kind: 'models', method: 'GET', deployment: undefined, azure: false };
const MESSAGES: Route = { kind: 'messages', method: 'POST', deployment: undefined, azure: false };
const AZURE_PREFIX = '/openai/deployments/';
/** Far above any realistic prompt, low enough that a runaway client cannot exhaust memory. */
const MAX_BODY_CHARS = 32 * 1024 * 1024;

function resolveRoute(path: string): Route | undefined {
  switch (path) {
    case '/v1/chat/completions':
      return CHAT;
    case '/v1/embeddings':
      return EMBEDDINGS;
    case '/v1/models':
      return MODELS;
    case '/v1/messages':
      return MESSAGES;
    default:
      break;
  }
  if (!path.startsWith(AZURE_PREFIX)) return undefined;
  const rest = path.slice(AZURE_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const suffix = rest.slice(slash);
  const kind: RouteKind | undefined = suffix === '/chat/completions' ? 'chat' : suffix === '/embeddings' ? 'embeddings' : undefined;
  if (kind === undefined) return undefined;
  let deployment: string;
  try {
    deployment = decodeURIComponent(rest.slice(0, slash));
  } catch {
    return undefined;
  }
  return { kind, method: 'POST', deployment, azure: true };
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(headers)) {
    const value = headers[key];
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseQuery(search: string): Record<string, string> {
  return search.length === 0 ? {} : Object.fromEntries(new URLSearchParams(search));
}

function noop(): void {}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`simulator option ${name} must be a non-negative number, got ${value}`);
  return value;
}

class Simulator {
  readonly context: SimContext;
  readonly recorder: Recorder | undefined;
  private readonly apiKey: string | undefined;
  private readonly errorRate: number;
  private readonly errorStatus: number;
  /** Deterministic spreading of errorRate: each request adds the rate, every whole unit is one error. */
  private errorDebt = 0;
  private readonly createdSeconds = Math.floor(Date.now() / 1000);
  private readonly createdIso = new Date(this.createdSeconds * 1000).toISOString();

  constructor(options: SimulatorOptions) {
    const errorRate = nonNegative('errorRate', options.errorRate, 0);
    if (errorRate > 1) throw new RangeError(`simulator option errorRate must be within 0..1, got ${errorRate}`);
    const errorStatus = options.errorStatus ?? 500;
    if (!Number.isInteger(errorStatus) || errorStatus < 400 || errorStatus > 599) {
      throw new RangeError(`simulator option errorStatus must be 400..599, got ${errorStatus}`);
    }
    const maxRecorded = nonNegative('maxRecorded', options.maxRecorded, 10_000);
    this.context = {
      name: options.name ?? 'simulator',
      chatModels: options.chatModels === undefined ? undefined : new Set(options.chatModels),
      embeddingModels: options.embeddingModels === undefined ? undefined : new Set(options.embeddingModels),
      latencyMs: nonNegative('latencyMs', options.latencyMs, 0),
      ttftMs: nonNegative('ttftMs', options.ttftMs, 0),
      tokensPerSecond: nonNegative('tokensPerSecond', options.tokensPerSecond, 0),
      ids: new IdSource(),
    };
    this.recorder = options.record === false ? undefined : new Recorder(Math.floor(maxRecorded));
    this.apiKey = options.apiKey;
    this.errorRate = errorRate;
    this.errorStatus = errorStatus;
  }

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // An upload aborted mid-body makes req emit 'error'; unhandled, that would crash the process.
    req.on('error', noop);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? '' : url.slice(q + 1);
    if (path.startsWith('/_sim/')) {
      this.control(req, res, path);
      return;
    }
    let record: ReceivedRequest | undefined;
    if (this.recorder !== undefined) {
      record = this.recorder.add({
        time: new Date().toISOString(),
        method: req.method ?? '',
        path,
        query: parseQuery(search),
        headers: flattenHeaders(req.headers),
        body: null,
        completed: false,
        aborted: false,
      });
    }
    const ex = new Exchange(req, res, this.context.name, record);
    const route = resolveRoute(path);
    req.setEncoding('utf8');
    let raw = '';
    let tooLarge = false;
    req.on('data', (chunk: string) => {
      if (tooLarge) return;
      raw += chunk;
      if (raw.length > MAX_BODY_CHARS) {
        tooLarge = true;
        raw = '';
      }
    });
    req.on('end', () => {
      this.dispatch(ex, route, path, search, raw, tooLarge);
    });
  };

  private dispatch(ex: Exchange, route: Route | undefined, path: string, search: string, raw: string, tooLarge: boolean): void {
    const req = ex.req;
    let body: unknown = null;
    let parsed = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
        parsed = true;
      } catch {
        body = null;
      }
    }
    if (ex.record !== undefined) ex.record.body = body;
    if (route === undefined) {
      ex.sendError(404, openaiError(404, `Unknown route: ${req.method ?? ''} ${path}`, null, 'not_found'));
      return;
    }
    const anthropic = route.kind === 'messages' || (route.kind === 'models' && req.headers['anthropic-version'] !== undefined);
    const fail = (status: number, message: string, param: string | null = null, code: string | null = null): void => {
      ex.sendError(status, anthropic ? anthropicError(status, message) : openaiError(status, message, param, code));
    };
    if (req.method !== route.method) {
      fail(405, `Method ${req.method ?? ''} is not allowed on ${path}; use ${route.method}.`);
      return;
    }
    if (tooLarge) {
      fail(413, 'Request body too large.');
      return;
    }
    if (!this.authorized(req.headers)) {
      fail(401, anthropic ? 'invalid x-api-key' : 'Incorrect API key provided.', null, 'invalid_api_key');
      return;
    }
    if (route.azure && !new URLSearchParams(search).get('api-version')) {
      fail(400, 'Missing required query parameter: api-version.', 'api-version', 'missing_api_version');
      return;
    }
    if (route.kind === 'messages' && req.headers['anthropic-version'] === undefined) {
      fail(400, 'anthropic-version: header is required');
      return;
    }
    if (this.errorRate > 0) {
      this.errorDebt += this.errorRate;
      // The epsilon absorbs float drift so e.g. 0.1 really fails every 10th request.
      if (this.errorDebt >= 1 - 1e-9) {
        this.errorDebt -= 1;
        const status = this.errorStatus;
        ex.after(this.context.latencyMs, () => {
          fail(status, `Simulated upstream error (status ${status})`, null, status === 429 ? 'rate_limit_exceeded' : null);
        });
        return;
      }
    }
    if (route.method === 'POST' && !parsed) {
      fail(400, raw.length === 0 ? 'The request body is empty; expected JSON.' : 'We could not parse the JSON body of your request.');
      return;
    }
    switch (route.kind) {
      case 'chat':
        handleChat(ex, this.context, body, route.deployment);
        return;
      case 'embeddings':
        handleEmbeddings(ex, this.context, body, route.deployment);
        return;
      case 'messages':
        handleMessages(ex, this.context, body);
        return;
      case 'models':
        ex.after(this.context.latencyMs, () => {
          ex.sendJson(200, anthropic ? anthropicModelsJson(this.context, this.createdIso) : modelsJson(this.context, this.createdSeconds));
        });
        return;
    }
  }

  private authorized(headers: IncomingHttpHeaders): boolean {
    const key = this.apiKey;
    if (key === undefined) return true;
    if (headers['x-api-key'] === key || headers['api-key'] === key) return true;
    const auth = headers.authorization;
    return auth !== undefined && auth.length === key.length + 7 && auth.toLowerCase().startsWith('bearer ') && auth.slice(7) === key;
  }

  private control(req: IncomingMessage, res: ServerResponse, path: string): void {
    req.resume();
    const name = this.context.name;
    const send = (status: number, json: string | undefined): void => {
      if (json === undefined) {
        res.writeHead(status, { 'x-sim-name': name });
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'x-sim-name': name });
      res.end(json);
    };
    if (path === '/_sim/health' && req.method === 'GET') {
      send(200, JSON.stringify({ status: 'ok', name }));
    } else if (path === '/_sim/received' && req.method === 'GET') {
      send(200, JSON.stringify(this.recorder?.snapshot() ?? []));
    } else if (path === '/_sim/received' && req.method === 'DELETE') {
      this.recorder?.clear();
      send(204, undefined);
    } else {
      send(404, openaiError(404, `Unknown route: ${req.method ?? ''} ${path}`, null, 'not_found'));
    }
  }
}

/** Starts a fake upstream that speaks OpenAI, Azure OpenAI and Anthropic on one port. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const sim = new Simulator(options);
  const server = createServer(sim.onRequest);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    name: sim.context.name,
    received: () => sim.recorder?.snapshot() ?? [],
    clear: () => sim.recorder?.clear(),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        // Stalled streams never end on their own; sever them so close() cannot hang.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
