import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planReply, splitInThree, splitWords, type Turn } from '../../src/simulator/conversation.js';
import { parseDirectives } from '../../src/simulator/directives.js';
import { embed, toBase64 } from '../../src/simulator/embeddings.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const baseTurn: Turn = { lastUserText: '', toolResultText: undefined, endsWithUser: true, textChars: 0, tools: [], toolChoice: 'auto' };

describe('simulator units', () => {
  it('splitWords: pieces rejoin to the text and each holds one word plus trailing whitespace', () => {
    assert.deepEqual(splitWords('You said:  hi\tthere \n'), ['You ', 'said:  ', 'hi\t', 'there \n']);
    assert.deepEqual(splitWords('  lead'), ['  lead']);
    assert.deepEqual(splitWords(''), []);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const pieces = splitWords(text);
        assert.equal(pieces.join(''), text);
        for (const piece of pieces.slice(1)) assert.match(piece, /^\S+\s*$/u);
      }),
    );
  });

  it('splitInThree: at most three pieces that rejoin, never splitting a surrogate pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (text) => {
        const json = JSON.stringify({ s: text });
        const pieces = splitInThree(json);
        assert.equal(pieces.join(''), json);
        assert.ok(pieces.length >= 1 && pieces.length <= 3);
        for (const piece of pieces) assert.doesNotMatch(piece, LONE_SURROGATE);
      }),
    );
    assert.equal(splitInThree('{}').length, 2);
  });

  it('parseDirectives reads several directives and rejects malformed ones', () => {
    assert.deepEqual(parseDirectives('plain text'), { ok: true, directives: {} });
    assert.deepEqual(parseDirectives('a [[sim:status=503]] b [[sim:delay_ms= 20 ]] [[sim:reply=x = y, z]]'), {
      ok: true,
      directives: { status: 503, delayMs: 20, reply: 'x = y, z' },
    });
    assert.deepEqual(parseDirectives('[[sim:drop_after=2]][[sim:stall_after=0]]'), { ok: true, directives: { dropAfter: 2, stallAfter: 0 } });
    for (const bad of ['[[sim:status=200]]', '[[sim:status=x]]', '[[sim:what=1]]', '[[sim:status]]', '[[sim:status=500', '[[sim:delay_ms=-1]]']) {
      assert.equal(parseDirectives(bad).ok, false, bad);
    }
  });

  it('planReply is a pure function of the turn', () => {
    const plan = planReply({ ...baseTurn, lastUserText: 'hey', textChars: 9 }, {});
    assert.ok(plan.ok);
    assert.equal(plan.plan.text, 'You said: hey');
    assert.equal(plan.plan.inputTokens, 3);
    assert.equal(plan.plan.outputTokens, 3);

    const empty = planReply(baseTurn, {});
    assert.ok(empty.ok);
    assert.equal(empty.plan.inputTokens, 1, 'at least one input token');

    const tool = planReply({ ...baseTurn, lastUserText: 'q', tools: [{ name: 't', properties: { a: { type: 'string' }, n: { type: 'number' } } }] }, {});
    assert.ok(tool.ok);
    assert.deepEqual(tool.plan.tool?.input, { a: 'q', n: 1 });
    assert.equal(tool.plan.pieces.join(''), '{"a":"q","n":1}');

    const afterTool = planReply({ ...baseTurn, endsWithUser: false, toolResultText: '42', tools: [{ name: 't', properties: undefined }] }, {});
    assert.ok(afterTool.ok);
    assert.equal(afterTool.plan.text, 'Tool result: 42');

    const unknownTool = planReply({ ...baseTurn, tools: [{ name: 't', properties: undefined }], toolChoice: { name: 'nope' } }, {});
    assert.equal(unknownTool.ok, false);
  });

  it('embeddings are deterministic unit vectors', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (text, dims) => {
        const a = embed(text, dims);
        const b = embed(text, dims);
        assert.deepEqual(a, b);
        assert.equal(toBase64(a), toBase64(b));
        let norm = 0;
        for (const v of a) norm += v * v;
        assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-5);
      }),
    );
  });
});
