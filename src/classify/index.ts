export { createClassifier, type Classifier, type ClassifierOptions } from './classifier.js';
export {
  classifierConfigSchema, DEFAULT_LEVELS, DEFAULT_ENTITY_RANKS, DEFAULT_COMBINATIONS, DEFAULT_ALLOW_LIST,
  type ClassifierConfig, type ClassifierConfigInput, type CombinationRule,
} from './config.js';
export { applyCallerLabel, type CallerLabelOptions } from './levels.js';
export { normalize, toOriginalSpan, type Normalized } from './normalize.js';
export type { Candidate, Classification, Finding, Segment } from './types.js';
export { ScanContext, type Detector } from './scan-context.js';
