/**
 * Per-stage CPU cost on the gateway bench's request (its ~2 KB prompt, bench/lib/workload.ts), in one
 * process and one thread: less noisy than the whole gateway on a shared machine, so
 * an optimisation of one stage can be measured on its own.
 *
 *   node dist/bench/profile-stages.js              # all stages
 *   STAGES=classify,stream-map node dist/bench/profile-stages.js
 */
import { createClassifier } from '../src/classify/classifier.js';
import type { ChatRequest, ChatResponse, Chunk } from '../src/domain/chat.js';
import { ClassifyStep } from '../src/pipeline/classify-step.js';
import { protectSchema } from '../src/protect/config.js';
import { createInjectionGuard } from '../src/protect/injection/guard.js';
import { OutputScanner, scanStream } from '../src/protect/output-scan.js';
import { Readable } from 'node:stream';
import type { Exchange } from '../src/providers/http-client.js';
import { OpenAiStreamMapper } from '../src/providers/openai/response.js';
import { openEventStream } from '../src/providers/sse-stream.js';
import { BENCH_REPLY, benchPrompt } from './lib/workload.js';

// The gateway bench's own workload: its ~2 KB prompt and the fixed reply the simulator sends for it.
const content = benchPrompt();

const request: ChatRequest = {
  model: 'bench-model',
  stream: false,
  includeUsage: false,
  protocolParams: {},
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'You are a concise assistant for an infrastructure team.' }] },
    { role: 'user', content: [{ type: 'text', text: content }] },
  ],
};
const answerText = BENCH_REPLY;
const response: ChatResponse = { id: 'x', model: 'bench-model', created: 0, content: answerText, toolCalls: [], finishReason: 'stop' };

/** What the simulator streams for the bench request: one word per event. */
function sseEvents(): string[] {
  const id = 'chatcmpl-qgJflRtjbsDX00000001';
  const head = `{"id":"${id}","object":"chat.completion.chunk","created":1795363476,"model":"bench-model","choices":[{"index":0,"delta":`;
  const events = [`${head}{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`];
  for (const word of answerText.split(/(?<= )/)) events.push(`${head}{"content":${JSON.stringify(word)}},"logprobs":null,"finish_reason":null}]}`);
  events.push(`${head}{},"logprobs":null,"finish_reason":"stop"}]}`);
  events.push(`{"id":"${id}","object":"chat.completion.chunk","created":1795363476,"model":"bench-model","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17}}`);
  events.push('[DONE]');
  return events;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function measure(name: string, fn: () => unknown | Promise<unknown>): Promise<void> {
  const iterations = Number(process.env.ITERATIONS ?? 3000);
  for (let i = 0; i < Math.min(500, iterations); i++) await fn();
  const results: number[] = [];
  for (let round = 0; round < 5; round++) {
    const before = cpuUs();
    for (let i = 0; i < iterations; i++) await fn();
    results.push((cpuUs() - before) / iterations);
  }
  results.sort((a, b) => a - b);
  process.stdout.write(`${name.padEnd(28)} ${results[2]!.toFixed(1).padStart(7)} µs CPU/call (min ${results[0]!.toFixed(1)})\n`);
}

async function drain(source: AsyncIterable<Chunk>): Promise<number> {
  let n = 0;
  for await (const _ of source) n++;
  return n;
}

async function* fromArray(chunks: readonly Chunk[]): AsyncGenerator<Chunk> {
  for (const c of chunks) yield c;
}

/**
 * Just enough of an upstream exchange for openEventStream: the SSE body as a Readable
 * (what undici hands over), read four events at a time.
 */
function ssePieces(events: readonly string[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < events.length; i += 4) pieces.push(Buffer.from(events.slice(i, i + 4).map((e) => `data: ${e}\n\n`).join('')));
  return pieces;
}

function fakeExchange(pieces: readonly Buffer[]): Exchange {
  const body = Readable.from(pieces);
  const fake = {
    body,
    headerValue: (name: string) => (name === 'content-type' ? 'text/event-stream' : undefined),
    expectEnd: () => undefined,
    release: () => undefined,
    bodyError: (err: unknown) => err,
  };
  return fake as unknown as Exchange;
}

async function main(): Promise<void> {
  const wanted = new Set((process.env.STAGES ?? 'classify,injection,output,stream-map,stream-scan,stream-all').split(','));
  const classifier = createClassifier();
  const step = new ClassifyStep(classifier);
  const output = new OutputScanner(classifier, protectSchema.parse({}).output);
  const guard = createInjectionGuard({});
  const events = sseEvents();
  if (wanted.has('classify')) await measure('classify request', () => step.chat(request, []));
  if (wanted.has('injection')) await measure('injection guard', () => guard.scanRequest(request));
  if (wanted.has('output')) await measure('output scan (whole answer)', () => output.forRequest(request).scanResponse(response));
  if (wanted.has('stream-map')) {
    await measure('openai stream mapping', () => {
      const mapper = new OpenAiStreamMapper('bench-model');
      const out: Chunk[] = [];
      for (const e of events) mapper.onEvent(undefined, e, out);
      return out.length;
    });
  }
  if (wanted.has('stream-scan')) {
    const mapper = new OpenAiStreamMapper('bench-model');
    const chunks: Chunk[] = [];
    for (const e of events) mapper.onEvent(undefined, e, chunks);
    await measure('output scan (stream)', () => drain(scanStream(fromArray(chunks), output.forRequest(request))));
    await measure('async source alone', () => drain(fromArray(chunks)));
  }
  if (wanted.has('stream-all')) {
    const pieces = ssePieces(events);
    await measure('upstream SSE -> scanned', async () => {
      const stream = await openEventStream(fakeExchange(pieces), new OpenAiStreamMapper('bench-model'));
      return drain(scanStream(stream, output.forRequest(request), { end: () => undefined }));
    });
    await measure('  of which the Readable', async () => {
      let n = 0;
      for await (const _ of Readable.from(pieces)) n++;
      return n;
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
