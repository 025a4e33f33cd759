import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Chunk } from '../../src/domain/chat.js';
import { chatSegments } from '../../src/pipeline/segments.js';
import { createClassifier } from '../../src/classify/index.js';
import { protectRequest } from '../../src/protect/pseudonymize.js';
import { StreamRestorer, newRestoreStats, restoreJsonText, restoreResponse, restoreStream, restoreText } from '../../src/protect/restore.js';
import { MemoryVault } from '../../src/protect/vault/memory-vault.js';
import type { VaultSession } from '../../src/protect/vault/types.js';
import type { Provider } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { backend, ctx, secretSource } from '../providers/support.js';
import { chars, request, splitAt, userMessage } from './support.js';

const vault = new MemoryVault({ ttlMs: 60_000 });

async function sessionWith(values: Array<[string, string]>): Promise<VaultSession> {
  const s = await vault.open({ requestId: 'r' });
  s.avoid([]);
  for (const [entity, value] of values) s.placeholderFor(entity, value);
  return s;
}

function textOf(chunks: readonly Chunk[]): string {
  return chunks.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

function run(restorer: StreamRestorer, pieces: readonly string[]): { out: Chunk[]; perPiece: string[] } {
  const out: Chunk[] = [];
  const perPiece: string[] = [];
  for (const p of pieces) {
    const got = restorer.push({ type: 'text', text: p });
    perPiece.push(textOf(got));
    out.push(...got);
  }
  out.push(...restorer.flush());
  return { out, perPiece };
}

describe('restoring non-streamed answers', () => {
  it('restores content, tool-call arguments (escaped, JSON stays valid) and leaves invented placeholders', async () => {
    const s = await sessionWith([['PERSON', 'Jane "JD" Doe\\'], ['CREDIT_CARD', '4111111111111111']]);
    const stats = newRestoreStats();
    const res = restoreResponse(
      {
        id: 'x', model: 'm', created: 0, finishReason: 'tool_calls',
        content: 'Hi <PERSON_1>, <PERSON_9> is unknown.',
        toolCalls: [{ id: 'c', name: 'pay', arguments: '{"to": "<PERSON_1>", "card": <CREDIT_CARD_1>, "memo": "for <PERSON_1>!"}' }],
      },
      s,
      stats,
    );
    assert.equal(res.content, 'Hi Jane "JD" Doe\\, <PERSON_9> is unknown.');
    // A bare placeholder outside a string becomes the number it stood for; not valid JSON before, valid after.
    assert.deepEqual(JSON.parse(res.toolCalls[0]!.arguments), { to: 'Jane "JD" Doe\\', card: 4111111111111111, memo: 'for Jane "JD" Doe\\!' });
    assert.equal(stats.unknown, 1);
    assert.equal(stats.restored, 4);
    assert.equal(restoreJsonText('{"a": "<PERSON_1>"}', s), '{"a": "Jane \\"JD\\" Doe\\\\"}');
  });
});

describe('StreamRestorer', () => {
  it('holds back only a suffix that can still become an issued placeholder', async () => {
    const r = new StreamRestorer(await sessionWith([['PERSON', 'Jane']]));
    assert.deepEqual(r.push({ type: 'text', text: 'Hello <PER' }), [{ type: 'text', text: 'Hello ' }]);
    assert.deepEqual(r.push({ type: 'text', text: 'SON_1> and < ' }), [{ type: 'text', text: 'Jane and < ' }]);
    assert.deepEqual(r.push({ type: 'text', text: '<X' }), [{ type: 'text', text: '<X' }]);
    assert.deepEqual(r.push({ type: 'text', text: '<PERSON_2' }), [{ type: 'text', text: '<PERSON_2' }], 'not a prefix of an issued placeholder');
    assert.deepEqual(r.push({ type: 'text', text: ' <' }), [{ type: 'text', text: ' ' }]);
    assert.deepEqual(r.push({ type: 'finish', reason: 'stop' }), [{ type: 'text', text: '<' }, { type: 'finish', reason: 'stop' }]);
  });

  it('restores text split at any boundaries, including one character per chunk', async () => {
    const s = await sessionWith([['PERSON', 'Jane Doe'], ['EMAIL_ADDRESS', 'j@x.io'], ['PERSON', 'Bo']]);
    const alphabet = fc.constantFrom('<PERSON_1>', '<PERSON_2>', '<EMAIL_ADDRESS_1>', '<PERSON_9>', '<', '>', 'PERSON', '_1', ' ', 'a', '<<', 'é', '🙂');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (parts, cuts) => {
        const text = parts.join('');
        const expected = restoreText(text, s);
        for (const pieces of [splitAt(text, cuts), chars(text)]) {
          const { out } = run(new StreamRestorer(s), pieces);
          assert.equal(textOf(out), expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('restores tool-call argument deltas split anywhere into the same JSON as the whole', async () => {
    const s = await sessionWith([['PERSON', 'Jane "Q" Doe'], ['CREDIT_CARD', '4111111111111111']]);
    const args = '{"to": "<PERSON_1>", "card": "<CREDIT_CARD_1>", "raw": <CREDIT_CARD_1>, "note": "\\"<PERSON_1>\\""}';
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 30 }), (cuts) => {
        const r = new StreamRestorer(s);
        const out: Chunk[] = [];
        for (const p of splitAt(args, cuts)) out.push(...r.push({ type: 'tool_call_delta', index: 0, arguments: p }));
        out.push(...r.push({ type: 'finish', reason: 'tool_calls' }));
        const joined = out.map((c) => (c.type === 'tool_call_delta' ? c.arguments : '')).join('');
        assert.equal(joined, restoreJsonText(args, s));
        assert.deepEqual(JSON.parse(joined), { to: 'Jane "Q" Doe', card: '4111111111111111', raw: 4111111111111111, note: '"Jane "Q" Doe"' });
      }),
    );
  });

  it('passes chunks through untouched when nothing was issued', async () => {
    const s = await vault.open({ requestId: 'empty' });
    const r = new StreamRestorer(s);
    assert.ok(r.passthrough);
    assert.deepEqual(r.push({ type: 'text', text: '<PER' }), [{ type: 'text', text: '<PER' }]);
  });
});

describe('restoring through the simulator', () => {
  let sim: SimulatorHandle;
  let provider: Provider;
  const classifier = createClassifier();

  before(async () => {
    sim = await startSimulator({ name: 'public', apiKey: 'k' });
    provider = createProvider(
      backend({ protocol: 'openai', baseUrl: `${sim.url}/v1`, credentials: 'env:PERIMETER_PUBLIC_API_KEY' }),
      secretSource('public-api', { PERIMETER_PUBLIC_API_KEY: 'k' }),
    );
  });
  after(async () => {
    await provider.close();
    await sim.close();
  });

  it('restores placeholders the model streams back word by word and glued to punctuation', async () => {
    const original = 'Contact jane.doe@corp-mail.com or call +1 415 555 0132 today.';
    const req = request([userMessage(original)], { stream: true });
    const findings = classifier.classifySegments(chatSegments(req).segments).findings;
    const p = await protectRequest(vault, { requestId: 'sim' }, req, findings);
    const sent = p.request.messages[0]!.content[0];
    assert.ok(sent?.type === 'text');
    // The model "uses" the placeholders: a reply that splits them across words and glues punctuation.
    const reply = sent.text.replace('Contact ', '').replace(' today.', '');
    const directive = request([userMessage(`[[sim:reply=Sure, (${reply}).]] ${sent.text}`)], { stream: true });
    const stream = await provider.chatStream(directive, 'm', ctx());
    const chunks: Chunk[] = [];
    for await (const c of restoreStream(stream, p.session)) chunks.push(c);
    assert.equal(textOf(chunks), 'Sure, (jane.doe@corp-mail.com or call +1 415 555 0132).');
    const body = JSON.stringify(sim.received().at(-1)?.body);
    assert.ok(!body.includes('jane.doe'), 'the backend never saw the value');
  });
});
