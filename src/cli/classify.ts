import { createInterface } from 'node:readline';
import { createClassifier } from '../classify/classifier.js';
import type { ClassifierConfigInput } from '../classify/config.js';
import { isGatewayError } from '../domain/errors.js';
import { classifyWire } from '../http/perimeter/classify.js';
import { ClassifyStep } from '../pipeline/classify-step.js';

/**
 * `perimeter classify`: JSONL in ({"text": ...} or a chat request per line), JSONL
 * out ({"level", "findings": [{"entity", "start", "end", "score"}]}). Offsets are
 * UTF-16 indices into the original text of the field named by `path`.
 * Returns the number of lines that could not be classified.
 */
export async function classifyLines(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, config: ClassifierConfigInput, labels: string[]): Promise<number> {
  const step = new ClassifyStep(createClassifier(config));
  let failed = 0;
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo += 1;
    if (line.trim() === '') continue;
    let out: object;
    try {
      const result = classifyWire(step, JSON.parse(line) as unknown, labels);
      out = {
        level: result.level,
        findings: result.findings.map((f) => ({ entity: f.entity, path: f.path, start: f.start, end: f.end, score: f.score })),
      };
    } catch (err) {
      failed += 1;
      const message = err instanceof SyntaxError ? 'not valid JSON' : isGatewayError(err) ? err.message : 'could not classify';
      out = { error: `line ${lineNo}: ${message}` };
    }
    output.write(`${JSON.stringify(out)}\n`);
  }
  return failed;
}
