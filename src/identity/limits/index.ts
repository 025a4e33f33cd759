export { limitsSchema, limitValuesSchema, type LimitsConfig, type LimitsConfigInput, type LimitValues } from './config.js';
export { estimateChatTokens } from './estimate.js';
export { LimitStoreError, type Adjustment, type Charge, type LimitStore, type ReserveOutcome } from './limit-store.js';
export {
  costUsd,
  limitError,
  Limiter,
  toMicroUsd,
  type BudgetMetric,
  type LimitDecision,
  type LimitEvent,
  type LimiterOptions,
  type RateMetric,
  type Reservation,
  type ReserveInput,
  type SubjectKind,
  type Usage,
} from './limiter.js';
export { MemoryLimitStore } from './memory-store.js';
export { RedisLimitStore, type RedisLimitStoreOptions } from './redis-store.js';
