import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClassifier } from '../../src/classify/classifier.js';

describe('custom dictionaries', () => {
  it('terms with "-", "/" and regex metacharacters build and match as literal whole words', () => {
    const classifier = createClassifier({
      custom: { dictionaries: [{ entity: 'PROJECT_CODENAME', terms: ['KESTREL-7', 'north/south', 'a.b+c'] }], patterns: [] },
    });
    const found = (text: string): string[] => classifier.classify(text, 'test').findings.filter((f) => f.entity === 'PROJECT_CODENAME').map((f) => text.slice(f.start, f.end));
    assert.deepEqual(found('status of kestrel-7 and NORTH/SOUTH'), ['kestrel-7', 'NORTH/SOUTH']);
    assert.deepEqual(found('a.b+c shipped'), ['a.b+c']);
    // Literal, not a pattern: "." is not any character, and a longer word is not a match.
    assert.deepEqual(found('axb+c and KESTREL-77'), []);
  });
});
