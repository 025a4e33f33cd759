import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClassifier, type Classifier } from '../../src/classify/classifier.js';
import { ClassifyStep } from '../../src/pipeline/classify-step.js';
import { chatSegments } from '../../src/pipeline/segments.js';

describe('ClassifyStep', () => {
  it('fails closed when the classifier throws', () => {
    const real = createClassifier({});
    const broken: Classifier = {
      ...real,
      classifySegments: () => {
        throw new RangeError('detector exploded on 4111 1111 1111 1111');
      },
    };
    const step = new ClassifyStep(broken);
    const result = step.text('hello', []);
    assert.equal(result.level, 'regulated');
    assert.deepEqual(result.reasons, ['classifier failed (RangeError); treated as regulated']);
  });

  it('fails closed to the highest configured level name', () => {
    const real = createClassifier({ levels: ['open', 'restricted', 'secret'] });
    const step = new ClassifyStep({
      ...real,
      classifySegments: () => {
        throw new Error('boom');
      },
    });
    assert.equal(step.text('x', []).level, 'secret');
  });

  it('notes image parts it cannot read', () => {
    const step = new ClassifyStep(createClassifier({}));
    const result = step.chat(
      {
        model: 'm',
        stream: false,
        includeUsage: false,
        protocolParams: {},
        messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,AAAA' }] }],
      },
      [],
    );
    assert.ok(result.reasons.includes('1 image part(s) not scanned'));
  });

  it('extracts number literals from raw tool arguments, outside strings only', () => {
    const { segments } = chatSegments({
      model: 'm',
      stream: false,
      includeUsage: false,
      protocolParams: {},
      messages: [
        {
          role: 'assistant',
          content: [],
          toolCalls: [{ id: 'c', name: 'f', arguments: '{"a": 4111111111111111111, "b": "12 \\" 34", "c": [1.5e3, -2]}' }],
        },
      ],
    });
    const numbers = segments.find((s) => s.path.endsWith('#numbers'));
    assert.equal(numbers?.text, '4111111111111111111 1.5e3 -2');
    assert.ok(segments.some((s) => s.path === 'messages[0].tool_calls[0].arguments.b' && s.text === '12 " 34'));
  });
});
