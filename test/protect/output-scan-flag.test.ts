import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClassifier } from '../../src/classify/index.js';
import type { ChatRequest, Chunk } from '../../src/domain/chat.js';
import { OutputScanner, scanStream } from '../../src/protect/index.js';

const request: ChatRequest = { model: 'm', stream: true, includeUsage: false, protocolParams: {}, messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }] };

async function run(text: string, size: number): Promise<{ out: string; entities: string[] }> {
  const scan = new OutputScanner(createClassifier({}), { action: 'flag', windowChars: 128 }).forRequest(request);
  async function* source(): AsyncGenerator<Chunk> {
    yield { type: 'start', id: 'a', model: 'm', created: 1 };
    for (let i = 0; i < text.length; i += size) yield { type: 'text', text: text.slice(i, i + size) };
    yield { type: 'finish', reason: 'stop' };
  }
  let out = '';
  for await (const c of scanStream(source(), scan)) if (c.type === 'text') out += c.text;
  return { out, entities: scan.findings.map((f) => f.entity) };
}

describe('flag-mode stream scanning in batches', () => {
  it('passes text unchanged and still finds a value split across a batch boundary', async () => {
    for (const pad of [1990, 2030, 2045, 2060]) {
      const text = `${'x '.repeat(pad / 2)}card 4111 1111 1111 1111 ok ${'y '.repeat(40)}`;
      for (const size of [1, 3, 17]) {
        const { out, entities } = await run(text, size);
        assert.equal(out, text, `pad ${pad} size ${size}`);
        assert.deepEqual(entities, ['CREDIT_CARD'], `pad ${pad} size ${size}`);
      }
    }
  });
});
