import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';

/**
 * Shared pieces of the fuzz suites. Every property has a fixed run count so CI time is
 * bounded; fast-check puts the seed and the shrunk counterexample in the failure
 * message, and the reporter below prints the seed as well so a failure can be re-run with
 * `{ seed, path }` pasted into the property's parameters.
 */
export function params<T>(numRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const seed = extra.seed ?? Math.floor(Math.random() * 0x7fffffff);
  return {
    numRuns,
    seed,
    reporter: (details) => {
      if (!details.failed) return;
      // fast-check's own message carries the seed too; this line survives truncated output.
      console.error(`fuzz property failed: seed=${details.seed} path=${String(details.counterexamplePath)}`);
      const cause = details.errorInstance;
      const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
      throw new Error(`${fc.defaultReportMessage(details) ?? `property failed (seed ${details.seed})`}\nGot error: ${reason}`, { cause });
    },
    ...extra,
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** POSTs exact bytes with node:http, so bodies can hold invalid UTF-8 and headers can be wrong. */
export function rawPost(base: string, path: string, body: Buffer | string, headers: Record<string, string | undefined> = {}): Promise<RawResponse> {
  const url = new URL(base);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const sent: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(bytes.length) };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete sent[k];
    else sent[k] = v;
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers: sent, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const all = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: all, text: all.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(bytes);
  });
}

/**
 * Writes raw bytes to the gateway's socket and reads until it closes (or a response
 * has fully arrived); for framing the http client refuses to produce.
 */
export function rawSocket(base: string, bytes: Buffer): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      // A reset after the answer is fine; before it, the caller sees what arrived.
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

export type Api = 'openai' | 'anthropic';

/** The error envelope of one API, exactly: OpenAI `{error:{message,type,code}}`, Anthropic `{type:'error',error:{type,message}}`. */
export function assertErrorEnvelope(api: Api, res: RawResponse, context: string): void {
  assert.match(String(res.headers['content-type']), /application\/json/, `${context}: content-type ${String(res.headers['content-type'])}`);
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(`${context}: error body is not JSON: ${res.text.slice(0, 200)}`);
  }
  assert.ok(isRecord(body), `${context}: body is not an object`);
  if (api === 'openai') {
    assert.equal(body['type'], undefined, `${context}: OpenAI envelope has no top-level type`);
    const error = body['error'];
    assert.ok(isRecord(error), `${context}: no error object: ${res.text.slice(0, 200)}`);
    assert.equal(typeof error['message'], 'string', context);
    assert.equal(typeof error['type'], 'string', context);
    assert.equal(typeof error['code'], 'string', context);
  } else {
    assert.equal(body['type'], 'error', `${context}: Anthropic envelope type: ${res.text.slice(0, 200)}`);
    const error = body['error'];
    assert.ok(isRecord(error), `${context}: no error object`);
    assert.equal(typeof error['type'], 'string', context);
    assert.equal(typeof error['message'], 'string', context);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Fails the current test if any promise rejection goes unhandled or any exception goes
 * uncaught while it runs. node:test reports those on its own only at the end of the
 * file, and not always against the test that caused them.
 */
export function guardProcess(): { readonly problems: string[]; check(): void; dispose(): void } {
  const problems: string[] = [];
  const onRejection = (reason: unknown): void => {
    problems.push(`unhandledRejection: ${reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)}`);
  };
  const onException = (err: Error): void => {
    problems.push(`uncaughtException: ${err.name}: ${err.message}`);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    problems,
    check: () => assert.deepEqual(problems, [], problems.join('\n')),
    dispose: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Byte sequences that are not UTF-8: stray continuation bytes, overlongs, surrogates, truncated sequences, 0xFE/0xFF. */
export const invalidUtf8: fc.Arbitrary<Buffer> = fc
  .array(
    fc.constantFrom(
      [0x80],
      [0xbf],
      [0xc0, 0xaf],
      [0xc1, 0xbf],
      [0xc3],
      [0xc3, 0x28],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      [0xf0, 0x9f, 0x98],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xfe],
      [0xff],
      [0x00],
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => Buffer.from(parts.flat()));

/** Unicode that trips naive text handling: lone surrogates, NUL, RTL/LTR marks, zero-width, combining marks, astral. */
export const nastyChar: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('\ud800', '\udfff', '\udbff', '\udc00', '\u0000', '\u200f', '\u200e', '\u202e', '\u2066', '\u200b', '\u200d', '\ufeff', '\u00ad'),
  fc.constantFrom('\u0301', '\u0336', '\u20dd', 'e\u0301', '\u1e9b\u0323', '\ufb01', '\uff11', '\u0660', '🙂', '👩‍👩‍👧', '\u{10ffff}', '\ufffd'),
  fc.string({ unit: 'grapheme', maxLength: 2 }),
  fc.string({ unit: 'binary', maxLength: 2 }),
);

/** Text mixing ordinary words, digits and punctuation with the characters above. */
export const nastyText: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 2, arbitrary: nastyChar }, { weight: 1, arbitrary: fc.constantFrom(' ', '\n', '@', '-', '4111', ' 555 ', ':', '=', '"', '\\') }), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));
