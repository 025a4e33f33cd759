import type { ChatResponse, Chunk } from '../domain/chat.js';
import { shapePattern, type PlaceholderFormat } from './placeholders.js';
import { transformStream } from './chunk-transform.js';
import type { VaultSession } from './vault/types.js';

/**
 * Restoring placeholders in answers. Only placeholders this request issued are
 * restored. One the model invents (`<PERSON_9>` when only `<PERSON_1>` was issued) is
 * left as is and counted in `unknown`: it names nobody, and guessing would be worse.
 */
export interface RestoreStats {
  /** Placeholders replaced by their values. */
  restored: number;
  /** Placeholder-shaped strings that were never issued, left as is. In streams, one split across chunks is not counted. */
  unknown: number;
}

export function newRestoreStats(): RestoreStats {
  return { restored: 0, unknown: 0 };
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * One stream of text (the answer's content, or one tool call's arguments) restored
 * incrementally. Holds back only the longest suffix that is still a proper prefix of
 * an issued placeholder: with `<PERSON_1>` issued, `"<PER"` is held, `"< "` and `"<X"`
 * go out at once. The hold is never longer than the longest issued placeholder minus one.
 */
class Channel {
  #pending = '';
  /** JSON mode: whether the next released character is inside a string, and after a backslash. */
  #inString = false;
  #escaped = false;
  /** Tool arguments are JSON-aware only when they look like JSON (start with { or [); free text is restored verbatim. */
  #json: boolean | undefined;
  constructor(
    private readonly table: RestoreTable,
    json: boolean,
    private readonly stats: RestoreStats,
  ) {
    this.#json = json ? undefined : false;
  }

  get held(): number {
    return this.#pending.length;
  }

  push(text: string): string {
    if (this.table.prefixes.size === 0) return text;
    const s = this.#pending + text;
    const hold = this.#holdStart(s);
    this.#pending = s.slice(hold);
    return this.#release(hold === s.length ? s : s.slice(0, hold));
  }

  end(): string {
    const s = this.#pending;
    this.#pending = '';
    return this.#release(s);
  }

  #holdStart(s: string): number {
    const { prefixes, maxLength, format } = this.table;
    const first = format.open.charCodeAt(0);
    for (let i = Math.max(0, s.length - maxLength + 1); i < s.length; i++) {
      if (s.charCodeAt(i) === first && prefixes.has(s.slice(i))) return i;
    }
    return s.length;
  }

  #release(s: string): string {
    if (s === '') return s;
    if (this.#json === undefined) {
      const first = /\S/.exec(s)?.[0];
      if (first !== undefined) this.#json = first === '{' || first === '[';
    }
    return this.#json === false ? replaceAll(s, this.table, this.stats, (v) => v) : this.#releaseJson(s);
  }

  /** Tracks string state so a value is escaped inside a JSON string and quoted (or left a number) outside. */
  #releaseJson(s: string): string {
    const { format, values } = this.table;
    const re = this.table.sticky;
    const open = format.open.charCodeAt(0);
    let out = '';
    let from = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (this.#escaped) {
        this.#escaped = false;
        continue;
      }
      if (c === open && values.size > 0) {
        re.lastIndex = i;
        const m = re.exec(s);
        if (m !== null) {
          const value = values.get(m[0]);
          if (value === undefined) this.stats.unknown++;
          else {
            this.stats.restored++;
            const inner = JSON.stringify(value);
            out += s.slice(from, i) + (this.#inString ? inner.slice(1, -1) : JSON_NUMBER.test(value) ? value : inner);
            from = i + m[0].length;
          }
          i += m[0].length - 1;
          continue;
        }
      }
      if (this.#inString) {
        if (c === 92) this.#escaped = true;
        else if (c === 34) this.#inString = false;
      } else if (c === 34) this.#inString = true;
    }
    return from === 0 ? s : out + s.slice(from);
  }
}

/** What the restorer needs from a session, precomputed once per request. */
export interface RestoreTable {
  readonly format: PlaceholderFormat;
  readonly values: ReadonlyMap<string, string>;
  /** Every proper prefix of every issued placeholder. */
  readonly prefixes: ReadonlySet<string>;
  readonly maxLength: number;
  readonly global: RegExp;
  readonly sticky: RegExp;
}

export function restoreTable(session: VaultSession): RestoreTable {
  const values = session.issued();
  const prefixes = new Set<string>();
  let maxLength = 0;
  for (const p of values.keys()) {
    maxLength = Math.max(maxLength, p.length);
    for (let n = 1; n < p.length; n++) prefixes.add(p.slice(0, n));
  }
  return {
    format: session.format,
    values,
    prefixes,
    maxLength,
    global: shapePattern(session.format, 'g'),
    sticky: shapePattern(session.format, 'y'),
  };
}

function replaceAll(s: string, table: RestoreTable, stats: RestoreStats, encode: (value: string) => string): string {
  if (table.values.size === 0 || !s.includes(table.format.open)) return s;
  table.global.lastIndex = 0;
  return s.replace(table.global, (m) => {
    const value = table.values.get(m);
    if (value === undefined) {
      stats.unknown++;
      return m;
    }
    stats.restored++;
    return encode(value);
  });
}

export function restoreText(text: string, session: VaultSession | RestoreTable, stats: RestoreStats = newRestoreStats()): string {
  return replaceAll(text, asTable(session), stats, (v) => v);
}

/**
 * Tool-call arguments: JSON-aware when the text starts like JSON (values are escaped
 * inside strings, and a bare placeholder becomes a JSON string or the number it stood
 * for), so the JSON stays valid; free text is restored verbatim. The stream restorer
 * makes the same choice, so streamed and whole answers agree.
 */
export function restoreJsonText(json: string, session: VaultSession | RestoreTable, stats: RestoreStats = newRestoreStats()): string {
  const table = asTable(session);
  if (table.values.size === 0 || !json.includes(table.format.open)) return json;
  const channel = new Channel(table, true, stats);
  return channel.push(json) + channel.end();
}

/**
 * A non-streamed answer with values restored in its content, tool-call names and
 * tool-call arguments. The Anthropic ingress maps tool_use input from `arguments`, so
 * it is covered too.
 */
export function restoreResponse(response: ChatResponse, session: VaultSession, stats: RestoreStats = newRestoreStats()): ChatResponse {
  const table = restoreTable(session);
  if (table.values.size === 0) return response;
  return {
    ...response,
    content: response.content === null ? null : restoreText(response.content, table, stats),
    toolCalls: response.toolCalls.map((c) => ({ ...c, name: restoreText(c.name, table, stats), arguments: restoreJsonText(c.arguments, table, stats) })),
  };
}

/**
 * A stateful transform over a stream's chunks. Text and each tool call's arguments are
 * separate channels; held text is released before any non-text chunk (a tool call
 * start, finish, usage), and everything at flush().
 */
export class StreamRestorer {
  readonly stats: RestoreStats;
  readonly #table: RestoreTable;
  readonly #text: Channel;
  readonly #tools = new Map<number, Channel>();

  constructor(session: VaultSession | RestoreTable, stats: RestoreStats = newRestoreStats()) {
    this.#table = asTable(session);
    this.stats = stats;
    this.#text = new Channel(this.#table, false, stats);
  }

  /** Characters currently held back across channels (for metrics and the bench). */
  get heldChars(): number {
    let n = this.#text.held;
    for (const c of this.#tools.values()) n += c.held;
    return n;
  }

  /** Nothing was issued: chunks can be passed on untouched. */
  get passthrough(): boolean {
    return this.#table.values.size === 0;
  }

  push(chunk: Chunk): Chunk[] {
    switch (chunk.type) {
      case 'start':
        return [chunk];
      case 'text': {
        const text = this.#text.push(chunk.text);
        return text === '' ? [] : [{ type: 'text', text }];
      }
      case 'tool_call_delta': {
        let channel = this.#tools.get(chunk.index);
        if (channel === undefined) {
          channel = new Channel(this.#table, true, this.stats);
          this.#tools.set(chunk.index, channel);
        }
        const args = channel.push(chunk.arguments);
        return args === '' ? [] : [{ type: 'tool_call_delta', index: chunk.index, arguments: args }];
      }
      case 'tool_call_start':
        return [...this.#endText(), { ...chunk, name: restoreText(chunk.name, this.#table, this.stats) }];
      default:
        return [...this.flush(), chunk];
    }
  }

  /** Releases everything held; call when the upstream stream ends. */
  flush(): Chunk[] {
    const out = this.#endText();
    for (const index of [...this.#tools.keys()].sort((a, b) => a - b)) {
      const args = this.#tools.get(index)!.end();
      if (args !== '') out.push({ type: 'tool_call_delta', index, arguments: args });
    }
    return out;
  }

  #endText(): Chunk[] {
    const text = this.#text.end();
    return text === '' ? [] : [{ type: 'text', text }];
  }
}

/** The stream with placeholders restored; ending or abandoning it ends the source too. */
export function restoreStream(source: AsyncIterable<Chunk>, session: VaultSession, stats: RestoreStats = newRestoreStats()): AsyncIterable<Chunk> {
  const restorer = new StreamRestorer(session, stats);
  if (restorer.passthrough) return source;
  return transformStream(source, restorer);
}

function asTable(s: VaultSession | RestoreTable): RestoreTable {
  return 'prefixes' in s ? s : restoreTable(s);
}
