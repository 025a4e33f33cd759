import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chatSegments } from '../../src/pipeline/segments.js';
import { parseJsonText, serializeJson } from '../../src/protect/json-text.js';
import { mapChatText } from '../../src/protect/rewrite.js';
import { chatRequestArb, request, userMessage } from './support.js';

const key = (s: { path: string; text: string }): string => `${s.path}\u0000${s.text}`;

describe('mapChatText', () => {
  it('visits exactly the paths and texts chatSegments yields, on random requests', () => {
    fc.assert(
      fc.property(chatRequestArb, (req) => {
        const visited: string[] = [];
        mapChatText(req, (path, text) => {
          visited.push(key({ path, text }));
          return text;
        });
        const expected = chatSegments(req).segments.map(key);
        assert.deepEqual([...visited].sort(), [...expected].sort());
      }),
      { numRuns: 400 },
    );
  });

  it('the identity mapping returns an equal request, and the input is never mutated', () => {
    fc.assert(
      fc.property(chatRequestArb, (req) => {
        const before = JSON.stringify(req);
        const out = mapChatText(req, (_p, t) => t);
        assert.equal(JSON.stringify(req), before);
        // Arguments with repeated keys are the one exception (earlier members are dropped).
        const dup = req.messages.some((m) => m.toolCalls?.some((c) => /"a": "x", "a"/.test(c.arguments)));
        // JSON text comparison: fast-check builds null-prototype objects, the copy has plain ones.
        if (!dup) assert.equal(JSON.stringify(out), before);
      }),
      { numRuns: 200 },
    );
  });

  it('after rewriting, the classifier would scan exactly the rewritten texts', () => {
    fc.assert(
      fc.property(chatRequestArb, (req) => {
        const out = mapChatText(req, (path, text) => (path.endsWith('#numbers') || path.endsWith('#key') ? text : `X${text}`));
        for (const s of chatSegments(out).segments) {
          if (!s.path.endsWith('#numbers') && !s.path.endsWith('#key')) assert.ok(s.text.startsWith('X'), s.path);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rewrites tool-call argument strings and keys, keeping JSON valid and long integers exact', () => {
    const req = request([
      {
        role: 'assistant',
        content: [],
        toolCalls: [{ id: 'c1', name: 'pay', arguments: '{"who": "Alice \\"A\\"", "Alice": 1, "card": 4111111111111111111}' }],
      },
    ]);
    const out = mapChatText(req, (path, text) => (path.endsWith('#numbers') ? text : text.replace('Alice', 'P"1')));
    const args = out.messages[0]!.toolCalls![0]!.arguments;
    const parsed = JSON.parse(args) as Record<string, unknown>;
    assert.equal(parsed['who'], 'P"1 "A"');
    assert.equal(parsed['P"1'], 1);
    assert.ok(args.includes('4111111111111111111'), 'number literal kept verbatim');
  });

  it('replaces a #numbers token with a JSON string and drops shadowed repeated keys', () => {
    const req = request([
      { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'pay', arguments: '{"a": "secret", "a": "x", "n": [4111, 7], "t": true}' }] },
    ]);
    const out = mapChatText(req, (path, text) => (path.endsWith('#numbers') ? text.split(' ').map((t) => (t === '4111' ? '<N_1>' : t)).join(' ') : text));
    const args = out.messages[0]!.toolCalls![0]!.arguments;
    assert.deepEqual(JSON.parse(args), { a: 'x', n: ['<N_1>', 7], t: true });
    assert.ok(!args.includes('secret'), 'the unscanned earlier member is not sent');
  });

  it('treats text that is not JSON as one field', () => {
    const req = request([{ role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'f', arguments: '{"a": Alice' }] }]);
    const out = mapChatText(req, (path, text) => (path === 'messages[0].tool_calls[0].arguments' ? text.replace('Alice', 'P') : text));
    assert.equal(out.messages[0]!.toolCalls![0]!.arguments, '{"a": P');
  });

  it('json-text round-trips what JSON.parse accepts and rejects what it rejects', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ maxLength: 8 })), (s) => {
        let ok = true;
        try {
          JSON.parse(s);
        } catch {
          ok = false;
        }
        const tree = parseJsonText(s);
        assert.equal(tree !== undefined, ok);
        if (tree !== undefined) assert.deepEqual(JSON.parse(serializeJson(tree)), JSON.parse(s));
      }),
    );
  });

  it('leaves data: image URLs alone and rewrites remote image URLs', () => {
    const req = request([
      { role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,QUxJQ0U=' }, { type: 'image', url: 'https://x.io/alice.png' }] },
      userMessage('hi'),
    ]);
    const out = mapChatText(req, (_p, t) => t.toUpperCase());
    assert.deepEqual(out.messages[0]!.content, [{ type: 'image', url: 'data:image/png;base64,QUxJQ0U=' }, { type: 'image', url: 'HTTPS://X.IO/ALICE.PNG' }]);
  });
});
