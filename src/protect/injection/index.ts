export { createInjectionGuard, scanChatRequest } from './guard.js';
export type {
  InjectionDecision, InjectionGuard, InjectionGuardOptions, InjectionScan, InjectionVerdict, MessageScan, RequestScan,
} from './guard.js';
export { injectionSchema, INJECTION_SOURCES } from './config.js';
export type { InjectionConfig, InjectionConfigInput, InjectionSource } from './config.js';
export { normalizeForInjection } from './normalize.js';
export type { NormalizedText } from './normalize.js';
export { evaluateRules, INJECTION_RULES } from './rules.js';
export type { InjectionRule, RuleResult } from './rules.js';
export { forEachFeature, FEATURE_BITS } from './features.js';
export { loadLinearModel } from './model.js';
export type { LinearModel, LinearModelData } from './model.js';
