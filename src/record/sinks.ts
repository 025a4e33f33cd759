import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ChatRequest, EmbeddingRequest } from '../domain/chat.js';
import type { Tier } from '../domain/tier.js';
import type { ResolveSecret, SinkConfig } from './config.js';
import type { DecisionRecord } from './decision-record.js';

export type Zone = 'on-prem' | 'cloud';

/** Receives decision records only: metadata, never content. */
export interface RecordSink {
  readonly name: string;
  readonly zone: Zone;
  write(batch: readonly DecisionRecord[]): Promise<void>;
  close?(): Promise<void>;
}

/** Prompts and completions of one request. Only ever handed to a ContentSink. */
export interface ContentEntry {
  readonly requestId: string;
  readonly time: string;
  readonly level: string | null;
  readonly tier: Tier | null;
  readonly backend: string | null;
  readonly model: string | null;
  readonly messages: readonly { readonly role: string; readonly text: string }[];
  readonly completion: string | null;
}

/** A sink that may hold raw content. Constructing one outside zone on-prem throws. */
export interface ContentSink {
  readonly name: string;
  readonly zone: 'on-prem';
  writeContent(batch: readonly ContentEntry[]): Promise<void>;
}

/** The content of a chat exchange, for content sinks. Text parts only; images are not kept. */
export function chatContent(
  meta: Pick<DecisionRecord, 'requestId' | 'time' | 'classification' | 'served'>,
  request: ChatRequest | EmbeddingRequest,
  completion: string | null,
): ContentEntry {
  const messages =
    'messages' in request
      ? request.messages.map((m) => ({ role: m.role, text: m.content.map((p) => (p.type === 'text' ? p.text : '')).join('') }))
      : request.input.map((text) => ({ role: 'input', text }));
  return {
    requestId: meta.requestId,
    time: meta.time,
    level: meta.classification.level,
    tier: meta.served.tier,
    backend: meta.served.backend,
    model: meta.served.model,
    messages,
    completion,
  };
}

function assertContentZone(name: string, zone: Zone): asserts zone is 'on-prem' {
  // The config schema refuses this already; this is the second line, for code that builds sinks by hand.
  if (zone !== 'on-prem') throw new Error(`sink "${name}": content may only go to a sink in zone on-prem`);
}

/** pino JSON lines on the gateway's own log stream. */
export class LogSink implements RecordSink {
  readonly name: string;
  readonly zone: Zone;
  readonly #logger: Logger;
  constructor(name: string, zone: Zone, logger: Logger) {
    this.name = name;
    this.zone = zone;
    this.#logger = logger;
  }
  async write(batch: readonly DecisionRecord[]): Promise<void> {
    for (const record of batch) this.#logger.info({ record }, 'decision record');
  }
}

export class LogContentSink extends LogSink implements ContentSink {
  declare readonly zone: 'on-prem';
  readonly #log: Logger;
  constructor(name: string, zone: Zone, logger: Logger) {
    assertContentZone(name, zone);
    super(name, zone, logger);
    this.#log = logger;
  }
  async writeContent(batch: readonly ContentEntry[]): Promise<void> {
    for (const content of batch) this.#log.info({ content }, 'request content');
  }
}

/** JSON Lines appended to a file. */
export class FileSink implements RecordSink {
  readonly name: string;
  readonly zone: Zone;
  readonly path: string;
  #ready: Promise<unknown> | undefined;
  constructor(name: string, zone: Zone, path: string) {
    this.name = name;
    this.zone = zone;
    this.path = path;
  }
  async write(batch: readonly DecisionRecord[]): Promise<void> {
    await this.append(this.path, batch);
  }
  protected async append(path: string, items: readonly object[]): Promise<void> {
    this.#ready ??= mkdir(dirname(path), { recursive: true });
    await this.#ready;
    await appendFile(path, items.map((i) => `${JSON.stringify(i)}\n`).join(''));
  }
}

/** Content goes to `<path>.content.jsonl`, beside the records, so each file has one shape. */
export class FileContentSink extends FileSink implements ContentSink {
  declare readonly zone: 'on-prem';
  constructor(name: string, zone: Zone, path: string) {
    assertContentZone(name, zone);
    super(name, zone, path);
  }
  get contentPath(): string {
    return `${this.path.replace(/\.jsonl$/, '')}.content.jsonl`;
  }
  async writeContent(batch: readonly ContentEntry[]): Promise<void> {
    await this.append(this.contentPath, batch);
  }
}

export interface HttpSinkOptions {
  readonly url: string;
  readonly format: 'json' | 'otlp';
  /** The Authorization header value, already resolved. */
  readonly authorization?: string | undefined;
  readonly timeoutMs: number;
}

/** POSTs each batch: a JSON array, or an OTLP/HTTP JSON logs request. Non-2xx throws, so the queue retries. */
export class HttpSink implements RecordSink {
  readonly name: string;
  readonly zone: Zone;
  readonly #o: HttpSinkOptions;
  constructor(name: string, zone: Zone, options: HttpSinkOptions) {
    this.name = name;
    this.zone = zone;
    this.#o = options;
  }
  async write(batch: readonly DecisionRecord[]): Promise<void> {
    const body = this.#o.format === 'otlp' ? otlpLogs(batch.map(recordLog)) : batch;
    await this.post(body, 'record');
  }
  protected async post(body: unknown, kind: 'record' | 'content'): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-perimeter-payload': kind };
    if (this.#o.authorization !== undefined) headers.authorization = this.#o.authorization;
    const res = await fetch(this.#o.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.#o.timeoutMs) });
    // Drain so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`sink ${this.name}: HTTP ${res.status}`);
  }
  protected get format(): 'json' | 'otlp' {
    return this.#o.format;
  }
}

export class HttpContentSink extends HttpSink implements ContentSink {
  declare readonly zone: 'on-prem';
  constructor(name: string, zone: Zone, options: HttpSinkOptions) {
    assertContentZone(name, zone);
    super(name, zone, options);
  }
  async writeContent(batch: readonly ContentEntry[]): Promise<void> {
    const body = this.format === 'otlp' ? otlpLogs(batch.map(contentLog)) : batch;
    await this.post(body, 'content');
  }
}

interface OtlpAttribute {
  key: string;
  value: { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
}
interface OtlpLogRecord {
  timeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: { stringValue: string };
  attributes: OtlpAttribute[];
}

function attr(key: string, value: string | number | boolean | null): OtlpAttribute | undefined {
  if (value === null) return undefined;
  if (typeof value === 'string') return { key, value: { stringValue: value } };
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  return Number.isInteger(value) ? { key, value: { intValue: String(value) } } : { key, value: { doubleValue: value } };
}

function recordLog(r: DecisionRecord): OtlpLogRecord {
  const attributes = [
    attr('event.name', 'perimeter.decision'),
    attr('perimeter.request_id', r.requestId),
    attr('perimeter.deployment_id', r.deploymentId),
    attr('perimeter.tier', r.served.tier),
    attr('perimeter.backend', r.served.backend),
    attr('perimeter.level', r.classification.level),
    attr('perimeter.status', r.status),
    attr('error.type', r.errorCode),
    attr('gen_ai.operation.name', r.operation === 'chat' ? 'chat' : 'embeddings'),
    attr('gen_ai.request.model', r.requestedModel),
    attr('gen_ai.response.model', r.served.model),
    attr('gen_ai.usage.input_tokens', r.tokens.input),
    attr('gen_ai.usage.output_tokens', r.tokens.output),
  ].filter((a): a is OtlpAttribute => a !== undefined);
  return { timeUnixNano: `${r.timeMs}000000`, severityNumber: r.status === 'ok' ? 9 : 13, severityText: r.status === 'ok' ? 'INFO' : 'WARN', body: { stringValue: JSON.stringify(r) }, attributes };
}

function contentLog(c: ContentEntry): OtlpLogRecord {
  const attributes = [attr('event.name', 'perimeter.content'), attr('perimeter.request_id', c.requestId), attr('perimeter.level', c.level)].filter(
    (a): a is OtlpAttribute => a !== undefined,
  );
  return { timeUnixNano: `${Date.parse(c.time)}000000`, severityNumber: 9, severityText: 'INFO', body: { stringValue: JSON.stringify(c) }, attributes };
}

function otlpLogs(records: OtlpLogRecord[]): unknown {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'perimeter' } }] },
        scopeLogs: [{ scope: { name: 'perimeter.records' }, logRecords: records }],
      },
    ],
  };
}

export interface BuiltSinks {
  readonly records: RecordSink[];
  readonly content: ContentSink[];
}

/** Sinks from config. Every sink gets records; those with `content: true` also get content. */
export function createSinks(configs: readonly SinkConfig[], deps: { logger: Logger; resolveSecret?: ResolveSecret }): BuiltSinks {
  const records: RecordSink[] = [];
  const content: ContentSink[] = [];
  for (const c of configs) {
    let sink: RecordSink;
    switch (c.type) {
      case 'stdout':
        sink = c.content ? new LogContentSink(c.name, c.zone, deps.logger) : new LogSink(c.name, c.zone, deps.logger);
        break;
      case 'file':
        sink = c.content ? new FileContentSink(c.name, c.zone, c.path) : new FileSink(c.name, c.zone, c.path);
        break;
      case 'http': {
        if (c.authorization !== undefined && deps.resolveSecret === undefined) throw new Error(`sink ${c.name}: authorization needs a secret resolver`);
        const options: HttpSinkOptions = {
          url: c.url,
          format: c.format,
          authorization: c.authorization === undefined ? undefined : deps.resolveSecret?.(c.authorization),
          timeoutMs: c.timeoutMs,
        };
        sink = c.content ? new HttpContentSink(c.name, c.zone, options) : new HttpSink(c.name, c.zone, options);
        break;
      }
    }
    records.push(sink);
    if (c.content) content.push(sink as RecordSink & ContentSink);
  }
  return { records, content };
}
