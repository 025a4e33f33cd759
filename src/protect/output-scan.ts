import type { Classifier } from '../classify/classifier.js';
import { normalize } from '../classify/normalize.js';
import type { Finding } from '../classify/types.js';
import type { ChatRequest, ChatResponse, Chunk } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import { chatSegments } from '../pipeline/segments.js';
import { IDENTITY_TRANSFORM, transformStream, type StreamHooks } from './chunk-transform.js';
import type { ProtectConfig } from './config.js';

export type OutputAction = ProtectConfig['output']['action'];

/** A finding in an answer that the request did not contain. Never carries the value. */
export interface OutputFinding {
  entity: string;
  detector: string;
  /** `content`, or `tool_calls[i].arguments`. */
  field: string;
}

/** Entity used when the classifier failed on an answer; mask and block then fail closed. */
export const UNSCANNED = 'UNSCANNED';

/**
 * Scans answers for sensitive data that was not in the request: a model echoing a
 * card number from training data or retrieved text. Build once with the classifier
 * and the `protect.output` config; call forRequest per request.
 */
export class OutputScanner {
  readonly #classifier: Classifier;
  readonly #config: ProtectConfig['output'];

  constructor(classifier: Classifier, config: ProtectConfig['output']) {
    this.#classifier = classifier;
    this.#config = config;
  }

  get action(): OutputAction {
    return this.#config.action;
  }

  /**
   * `request` is the client's ORIGINAL request (before pseudonymisation): values in it,
   * restored into the answer, are the client's own and are not reported.
   */
  forRequest(request: ChatRequest): OutputScan {
    // The texts are taken now (strings do not change); their comparable form only when an answer has a finding.
    const texts = chatSegments(request).segments.map((s) => s.text);
    return new OutputScan(this.#classifier, this.#config, () => inputCorpus(texts));
  }
}

export class OutputScan {
  /** Findings reported so far (all actions); for logs and metrics. */
  readonly findings: OutputFinding[] = [];
  readonly #classifier: Classifier;
  readonly #config: ProtectConfig['output'];
  readonly #corpusOf: () => string;
  #corpus: string | undefined;

  /** `corpus` gives the request's texts in comparable form; called at most once, and only if an answer has findings. */
  constructor(classifier: Classifier, config: ProtectConfig['output'], corpus: string | (() => string)) {
    this.#classifier = classifier;
    this.#config = config;
    this.#corpusOf = typeof corpus === 'string' ? () => corpus : corpus;
  }

  /** Findings of `text` not present in the input, or one UNSCANNED finding over all of it when the classifier failed. */
  newFindings(text: string, field: string): Finding[] {
    if (text === '') return [];
    const c = this.#classifier.classify(text, field);
    if (c.reasons.some((r) => r.startsWith('fail-closed:'))) {
      return [{ entity: UNSCANNED, path: field, start: 0, end: text.length, score: 1, detector: 'output-scan.failed' }];
    }
    if (c.findings.length === 0) return [];
    // Canonicalising the whole request was ~2% of a bench request's CPU, for answers that mostly have no finding.
    this.#corpus ??= this.#corpusOf();
    const corpus = this.#corpus;
    return c.findings.filter((f) => !corpus.includes(canon(text.slice(f.start, f.end))));
  }

  /** A non-streamed answer, flagged, masked or refused according to the config. */
  scanResponse(response: ChatResponse): ChatResponse {
    if (this.#config.action === 'off') return response;
    const content = response.content === null ? null : this.#apply(response.content, 'content', false);
    const toolCalls = response.toolCalls.map((call, i) => ({ ...call, arguments: this.#apply(call.arguments, `tool_calls[${i}].arguments`, true) }));
    return { ...response, content, toolCalls };
  }

  /** A stateful transform for a streamed answer: see OutputStreamScanner. */
  stream(): OutputStreamScanner {
    // flag changes nothing, so it need not hold text back; the context still lets it see split values.
    const hold = this.#config.action === 'flag' ? 0 : this.#config.windowChars;
    return new OutputStreamScanner(this, this.#config.windowChars, hold);
  }

  get action(): OutputAction {
    return this.#config.action;
  }

  /** Applies the action to the findings of `text` that lie in [0, upTo); returns the new text. */
  applyFindings(text: string, findings: readonly Finding[], field: string, json: boolean): string {
    if (findings.length === 0) return text;
    for (const f of findings) this.findings.push({ entity: f.entity, detector: f.detector, field });
    if (this.#config.action === 'block') {
      const entities = [...new Set(findings.map((f) => f.entity))].join(', ');
      throw new GatewayError('content_blocked', `The answer was blocked: it contained sensitive data not present in the request (${entities}).`);
    }
    if (this.#config.action !== 'mask') return text;
    const spans = [...findings].sort((a, b) => a.start - b.start);
    let out = '';
    let at = 0;
    for (const f of spans) {
      let { start, end } = f;
      if (start < at) start = at;
      // Inside JSON text, keep the string's quotes so the arguments stay valid JSON.
      if (json) {
        while (start < end && text[start] === '"') start++;
        while (end > start && text[end - 1] === '"') end--;
      }
      if (end <= start) continue;
      out += text.slice(at, start) + `[REDACTED:${f.entity}]`;
      at = end;
    }
    return out + text.slice(at);
  }

  #apply(text: string, field: string, json: boolean): string {
    return this.applyFindings(text, this.newFindings(text, field), field, json);
  }
}

/**
 * Incremental output scanning. Each channel (content; each tool call's arguments) holds
 * back its last `window` characters, so a value up to that long is seen whole before
 * any of it is released, and a value crossing the release point is held entirely. The
 * cost: the first `window` characters of an answer wait until `window` characters have
 * arrived (about window/4 tokens of time to first token), and each chunk rescans at
 * most 2 × window + chunk characters. Values longer than the window (long keys) may be
 * released in part before they are recognised; the rest is still masked or blocked.
 */
export class OutputStreamScanner {
  readonly #scan: OutputScan;
  readonly #window: number;
  readonly #hold: number;
  readonly #channels = new Map<string, { pending: string; context: string }>();

  constructor(scan: OutputScan, window: number, hold: number) {
    this.#scan = scan;
    this.#window = window;
    this.#hold = hold;
  }

  push(chunk: Chunk): Chunk[] {
    switch (chunk.type) {
      case 'text': {
        const text = this.#push('content', chunk.text, false, false);
        if (text === chunk.text) return [chunk];
        return text === '' ? [] : [{ type: 'text', text }];
      }
      case 'tool_call_delta': {
        const args = this.#push(`tool_calls[${chunk.index}].arguments`, chunk.arguments, true, false);
        return args === '' ? [] : [{ ...chunk, arguments: args }];
      }
      case 'tool_call_start':
        return [...this.#flushContent(), chunk];
      case 'start':
        return [chunk];
      default:
        return [...this.flush(), chunk];
    }
  }

  flush(): Chunk[] {
    const out = this.#flushContent();
    for (const field of this.#channels.keys()) {
      if (field === 'content') continue;
      const args = this.#push(field, '', true, true);
      const index = Number(/\[(\d+)\]/.exec(field)?.[1] ?? 0);
      if (args !== '') out.push({ type: 'tool_call_delta', index, arguments: args });
    }
    return out;
  }

  #flushContent(): Chunk[] {
    if (!this.#channels.has('content')) return [];
    const text = this.#push('content', '', false, true);
    return text === '' ? [] : [{ type: 'text', text }];
  }

  #push(field: string, text: string, json: boolean, final: boolean): string {
    let ch = this.#channels.get(field);
    if (ch === undefined) {
      ch = { pending: '', context: '' };
      this.#channels.set(field, ch);
    }
    if (this.#hold === 0) return this.#pushUnchanged(ch, field, text, json, final);
    ch.pending += text;
    let release = final ? ch.pending.length : ch.pending.length - this.#hold;
    if (release <= 0) return '';
    const offset = ch.context.length;
    const scanned = this.#scan.newFindings(ch.context + ch.pending, field);
    const inPending: Finding[] = [];
    for (const f of scanned) {
      if (f.end <= offset) continue; // wholly in released text: dealt with when it was released
      const start = Math.max(0, f.start - offset);
      const end = f.end - offset;
      if (!final && start < release && end > release) release = start;
      inPending.push({ ...f, start, end });
    }
    const ready = inPending.filter((f) => f.end <= release);
    const head = ch.pending.slice(0, release);
    ch.pending = ch.pending.slice(release);
    const out = this.#scan.applyFindings(head, ready, field, json);
    ch.context = (ch.context + out).slice(-this.#window);
    return out;
  }

  /**
   * `flag` never changes the text, so it passes at once and is scanned in batches:
   * one classifier run per BATCH_CHARS instead of one per token. The last TAIL_CHARS
   * of a batch are scanned again with the next one, so a value cut at the batch edge
   * is judged whole (and counted once), never as a fragment.
   */
  #pushUnchanged(ch: { pending: string; context: string }, field: string, text: string, json: boolean, final: boolean): string {
    ch.pending += text;
    if (ch.pending.length >= BATCH_CHARS || (final && ch.pending !== '')) {
      const offset = ch.context.length;
      const cut = final ? ch.pending.length : ch.pending.length - TAIL_CHARS;
      // Counted now: not wholly in the context (counted before), and ending before the tail (counted next time).
      const found = this.#scan.newFindings(ch.context + ch.pending, field).filter((f) => f.end > offset && f.end <= offset + cut);
      const head = ch.pending.slice(0, cut);
      this.#scan.applyFindings(head, found.map((f) => ({ ...f, start: Math.max(0, f.start - offset), end: f.end - offset })), field, json);
      ch.context = (ch.context + head).slice(-Math.max(this.#window, TAIL_CHARS * 2));
      ch.pending = ch.pending.slice(cut);
    }
    return final ? '' : text;
  }
}

/** Text gathered before a flag-mode stream scan. */
const BATCH_CHARS = 2048;
/** Longer than any structured value, so a value at a batch's end is carried over whole. */
const TAIL_CHARS = 96;

/** The scanned stream; block ends it with the GatewayError before the value is sent. */
export function scanStream(source: AsyncIterable<Chunk>, scan: OutputScan, hooks?: StreamHooks): AsyncIterable<Chunk> {
  if (scan.action === 'off' && hooks === undefined) return source;
  return transformStream(source, scan.action === 'off' ? IDENTITY_TRANSFORM : scan.stream(), hooks);
}

/** Comparable form of a value: NFKC, no invisibles, lower case, no spaces or separators. */
function canon(value: string): string {
  return normalize(value).text.toLowerCase().replace(/[\s\-.()]/g, '');
}

function inputCorpus(texts: readonly string[]): string {
  return texts.map(canon).join('\u0000');
}
