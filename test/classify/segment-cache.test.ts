import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import OpenAI from 'openai';
import { createClassifier, type Detector, type Segment } from '../../src/classify/index.js';
import { startStack, TEST_KEY } from '../helpers/gateway.js';

// Written for this test: turns of a support conversation, some long enough to be kept.
const FILLER = 'The onboarding checklist covers laptops, badges, accounts and the first week of training. ';
const TURNS = [
  `${FILLER.repeat(3)}My card is 4111 1111 1111 1111 and it expires next year.`,
  `${FILLER.repeat(4)}You can reach me at jane.doe@acme-corp.io or on +44 20 7946 0958.`,
  `${FILLER.repeat(3)}Patient John Smith was diagnosed with type 2 diabetes last spring.`,
  `${FILLER.repeat(5)}Nothing sensitive in this one, only the plan for the migration.`,
  'short question?',
  'My SSN is 078-05-1120.',
  `${FILLER.repeat(3)}The API key is AKIAIOSFODNN7EXAMPLE for the staging bucket.`,
];

describe('the segment cache', () => {
  it('answers exactly as a classifier without it, turn after turn of growing conversations', () => {
    const conversation = fc.array(fc.constantFrom(...TURNS), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.array(conversation, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 3000 }), (chats, maxChars) => {
        const cached = createClassifier({ cache: { maxChars, minChars: 64 } });
        const plain = createClassifier({ cache: { maxChars: 0 } });
        for (const chat of chats) {
          // Each turn resends everything before it, as chat clients do.
          for (let turn = 1; turn <= chat.length; turn++) {
            const segments: Segment[] = chat.slice(0, turn).map((text, i) => ({ path: `messages[${i}].content`, text }));
            assert.deepEqual(cached.classifySegments(segments), plain.classifySegments(segments));
          }
        }
        assert.ok(cached.cacheStats().chars <= maxChars, JSON.stringify(cached.cacheStats()));
        assert.equal(plain.cacheStats().entries, 0);
      }),
      { numRuns: 60 },
    );
  });

  it('rescans nothing it has seen in the same field, and keeps fields apart', () => {
    const c = createClassifier();
    const history = TURNS.slice(0, 4).map((text, i) => ({ path: `messages[${i}].content`, text }));
    const first = c.classifySegments(history);
    assert.deepEqual(c.cacheStats().hits, 0);
    const next = c.classifySegments([...history, { path: 'messages[4].content', text: TURNS[6]! }]);
    assert.equal(c.cacheStats().hits, 4);
    assert.equal(next.level, first.level);
    // The same text in another field is scanned again: the field name is part of what a detector sees.
    c.classifySegments([{ path: 'tools[0].function.description', text: TURNS[0]! }]);
    assert.equal(c.cacheStats().hits, 4);
  });

  it('never keeps a scan that failed closed: the next request scans again', () => {
    let calls = 0;
    const flaky: Detector = {
      id: 'test.flaky',
      entities: ['TEST'],
      needs: 0,
      detect() {
        if (calls++ === 0) throw new Error('boom');
      },
    };
    const c = createClassifier({}, { detectors: [flaky] });
    const segments = [{ path: 'messages[0].content', text: TURNS[3]! }];
    const failed = c.classifySegments(segments);
    assert.equal(failed.level, 'regulated');
    assert.ok(failed.reasons.some((r) => r.startsWith('fail-closed')));
    const again = c.classifySegments(segments);
    assert.equal(calls, 2, 'the failed text was answered from the cache');
    assert.notEqual(again.level, 'regulated');
    // Now it is kept: a third request does not call the detector.
    c.classifySegments(segments);
    assert.equal(calls, 2);
  });

  it('a cached finding handed out cannot change what the cache holds', () => {
    const c = createClassifier();
    const segments = [{ path: 'messages[0].content', text: TURNS[0]! }];
    const a = c.classifySegments(segments);
    const card = a.findings.find((f) => f.entity === 'CREDIT_CARD');
    assert.ok(card);
    const b = c.classifySegments(segments);
    for (const f of b.findings) f.entity = 'TAMPERED';
    assert.deepEqual(c.classifySegments(segments), a);
  });
});

describe('the segment cache in a running gateway', () => {
  it('serves the second turn of a chat from the cache, routes it the same, and reports lookups in /metrics', async () => {
    const stack = await startStack();
    try {
      const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
      const first = { role: 'user' as const, content: TURNS[0]! };
      const one = await openai.chat.completions.create({ model: 'llama-3.1-8b-instruct', messages: [first] }).withResponse();
      const two = await openai.chat.completions
        .create({ model: 'llama-3.1-8b-instruct', messages: [first, { role: 'assistant', content: 'Noted.' }, { role: 'user', content: TURNS[3]! }] })
        .withResponse();
      // The card in the first turn still makes the whole conversation regulated.
      assert.equal(one.response.headers.get('x-perimeter-sensitivity'), 'regulated');
      assert.equal(two.response.headers.get('x-perimeter-sensitivity'), 'regulated');
      assert.equal(two.response.headers.get('x-perimeter-tier'), 'on-prem');
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      assert.match(metrics, /perimeter_classifier_cache_lookups_total\{result="hit"\} 1\n/);
      assert.match(metrics, /perimeter_classifier_cache_lookups_total\{result="miss"\} 2\n/);
      assert.match(metrics, /perimeter_classifier_cache_chars \d+/);
    } finally {
      await stack.close();
    }
  });
});

