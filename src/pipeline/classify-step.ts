import type { Classifier } from '../classify/classifier.js';
import type { Classification } from '../classify/types.js';
import type { ChatRequest, EmbeddingRequest } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import { chatSegments, embeddingSegments, type Extracted } from './segments.js';

/**
 * Classification as the request path runs it: segment extraction, the classifier,
 * fail-closed handling and caller labels. Serving, the classify endpoint and the
 * CLI all call this, so they cannot disagree.
 */
export class ClassifyStep {
  readonly #classifier: Classifier;

  constructor(classifier: Classifier) {
    this.#classifier = classifier;
  }

  get levels(): readonly string[] {
    return this.#classifier.levels;
  }

  /** mayLower: the trusted-role hook; only a principal it approves can lower the level with a label. */
  chat(request: ChatRequest, labels: readonly string[], mayLower?: () => boolean): Classification {
    return this.#run(chatSegments(request), labels, mayLower);
  }

  embedding(request: EmbeddingRequest, labels: readonly string[], mayLower?: () => boolean): Classification {
    return this.#run(embeddingSegments(request), labels, mayLower);
  }

  text(text: string, labels: readonly string[]): Classification {
    return this.#run({ segments: [{ path: 'text', text }], opaqueParts: 0 }, labels);
  }

  #run(extracted: Extracted, labels: readonly string[], mayLower?: () => boolean): Classification {
    const levels = this.#classifier.levels;
    for (const label of labels) {
      if (!levels.includes(label)) {
        throw new GatewayError('invalid_request', `x-perimeter-sensitivity must be one of ${levels.join('|')}.`, {
          param: 'x-perimeter-sensitivity',
        });
      }
    }
    let classification: Classification;
    try {
      classification = this.#classifier.classifySegments(extracted.segments);
    } catch (err) {
      // Fail closed: a classifier that cannot answer makes the request the most sensitive kind.
      const top = levels[levels.length - 1] ?? 'regulated';
      const name = err instanceof Error ? err.name : 'unknown error';
      classification = { level: top, findings: [], reasons: [`classifier failed (${name}); treated as ${top}`] };
    }
    if (extracted.opaqueParts > 0) {
      classification = { ...classification, reasons: [...classification.reasons, `${extracted.opaqueParts} image part(s) not scanned`] };
    }
    const options = mayLower === undefined ? {} : { mayLower };
    for (const label of labels) classification = this.#classifier.applyCallerLabel(classification, label, options);
    return classification;
  }
}
