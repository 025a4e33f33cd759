/**
 * A small JSON parser that keeps every token's raw text. Tool-call arguments must be
 * rewritten without a JSON.parse round trip: that would round integers past 2^53 (card
 * numbers written as numbers) and reorder integer-like keys.
 */

export type JsonNode =
  | { kind: 'string'; raw: string; value: string }
  | { kind: 'number'; raw: string; at: number }
  | { kind: 'literal'; raw: string; at: number }
  | { kind: 'array'; items: JsonNode[] }
  | { kind: 'object'; members: JsonMember[] };

export interface JsonMember {
  key: { raw: string; value: string };
  value: JsonNode;
}

/** The parsed tree, or undefined when the text is not exactly one JSON value. */
export function parseJsonText(text: string): JsonNode | undefined {
  const p = new Parser(text);
  try {
    p.ws();
    const node = p.value(0);
    p.ws();
    if (p.i !== text.length) return undefined;
    return node;
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof RangeError) return undefined;
    throw err;
  }
}

/** Deep enough for any real tool call; deeper input is treated as not-JSON (scanned and rewritten whole). */
const MAX_DEPTH = 512;

/**
 * Whether JSON text nests deeper than parseJsonText accepts. The classifier's segment
 * extraction asks this so that both sides read the same text as JSON or as one opaque
 * string: if they disagreed, findings would name paths the rewriter never visits.
 * One pass, no recursion, so any depth is safe to ask about.
 */
export function exceedsJsonDepth(text: string): boolean {
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Whitespace, ',' and ':' are not values; ']' and '}' close one.
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 44 || c === 58) continue;
    if (c === 93 || c === 125) {
      open--;
      continue;
    }
    // Anything else starts a value, at the depth of the containers around it.
    if (open > MAX_DEPTH) return true;
    if (c === 91 || c === 123) open++;
    else if (c === 34) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    }
  }
  return false;
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) throw new RangeError('too deep');
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return { kind: 'string', ...this.string() };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const lit of ['true', 'false', 'null']) {
      if (this.s.startsWith(lit, this.i)) {
        const at = this.i;
        this.i += lit.length;
        return { kind: 'literal', raw: lit, at };
      }
    }
    throw new SyntaxError('unexpected token');
  }

  object(depth: number): JsonNode {
    this.i++;
    const members: JsonMember[] = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { kind: 'object', members };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') throw new SyntaxError('expected key');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') throw new SyntaxError('expected colon');
      this.i++;
      this.ws();
      members.push({ key, value: this.value(depth + 1) });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { kind: 'object', members };
      if (c !== ',') throw new SyntaxError('expected comma');
    }
  }

  array(depth: number): JsonNode {
    this.i++;
    const items: JsonNode[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return { kind: 'array', items };
    }
    for (;;) {
      this.ws();
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { kind: 'array', items };
      if (c !== ',') throw new SyntaxError('expected comma');
    }
  }

  string(): { raw: string; value: string } {
    const start = this.i;
    this.i++;
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 92) this.i += 2;
      else if (c === 34) {
        this.i++;
        const raw = s.slice(start, this.i);
        // JSON.parse validates escapes and control characters exactly as the classifier's parse did.
        return { raw, value: JSON.parse(raw) as string };
      } else if (c < 32) throw new SyntaxError('control character in string');
      else this.i++;
    }
    throw new SyntaxError('unterminated string');
  }

  number(): JsonNode {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const hit = m.exec(this.s);
    if (hit === null) throw new SyntaxError('bad number');
    const at = this.i;
    this.i += hit[0].length;
    return { kind: 'number', raw: hit[0], at };
  }
}

/** Compact serialisation; unchanged tokens keep their raw text (number precision, escapes). */
export function serializeJson(node: JsonNode): string {
  switch (node.kind) {
    case 'string':
    case 'number':
    case 'literal':
      return node.raw;
    case 'array':
      return `[${node.items.map(serializeJson).join(',')}]`;
    case 'object':
      return `{${node.members.map((m) => `${m.key.raw}:${serializeJson(m.value)}`).join(',')}}`;
  }
}

/**
 * The runs the classifier's `#numbers` segment is made of, with their offsets: the same
 * scan as `numberLiterals` in src/pipeline/segments.ts (characters of [0-9+-.eE] outside
 * strings), so finding offsets into that segment map back to raw text here.
 */
export function numberRuns(json: string): Array<{ start: number; end: number }> {
  const runs: Array<{ start: number; end: number }> = [];
  let inString = false;
  let start = -1;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92) i += 1;
      else if (c === 34) inString = false;
      continue;
    }
    const numeric = (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;
    if (numeric && start < 0) start = i;
    if (!numeric && start >= 0) {
      runs.push({ start, end: i });
      start = -1;
    }
    if (c === 34) inString = true;
  }
  if (start >= 0) runs.push({ start, end: json.length });
  return runs;
}
