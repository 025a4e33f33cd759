/**
 * The prompt-injection guard: normalise → weighted rules + linear model → score →
 * verdict against per-source thresholds. Pure and synchronous; no I/O after
 * construction, no model download.
 */
import type { ChatRequest } from '../../domain/chat.js';
import { textOf } from '../../domain/chat.js';
import { injectionSchema, type InjectionConfig, type InjectionConfigInput, type InjectionSource } from './config.js';
import { DEFAULT_WINDOW, loadLinearModel, type LinearModelData } from './model.js';
import { normalizeForInjection } from './normalize.js';
import { evaluateRules } from './rules.js';
import { INJECTION_MODEL } from './weights.js';

export type InjectionVerdict = 'clean' | 'suspicious' | 'injection';

export interface InjectionScan {
  /** 0..1; compare with the thresholds of the source. */
  score: number;
  verdict: InjectionVerdict;
  /** Rule ids (and `model.linear`) that contributed. Never contains input text. */
  signals: string[];
}

export interface MessageScan extends InjectionScan {
  /** Index into request.messages. */
  index: number;
  source: InjectionSource;
}

export type InjectionDecision = 'allow' | 'flag' | 'block' | 'restrict';

export interface RequestScan extends InjectionScan {
  /** What the configured action makes of the worst verdict. */
  decision: InjectionDecision;
  /** Set when decision is `restrict`. */
  restrictTier?: string;
  /** Only messages that were not clean, so logs stay short. */
  messages: MessageScan[];
}

export interface InjectionGuard {
  readonly config: InjectionConfig;
  scan(text: string, source: InjectionSource): InjectionScan;
  scanRequest(request: ChatRequest): RequestScan;
}

export interface InjectionGuardOptions {
  /** Replace the shipped model (tests, or a model retrained on in-house data). */
  model?: LinearModelData;
  /** Characters per model window (default DEFAULT_WINDOW); the eval compares sizes with it. */
  window?: number;
}

const CLEAN: InjectionScan = Object.freeze({ score: 0, verdict: 'clean', signals: Object.freeze([]) as unknown as string[] });
const RANK: Readonly<Record<InjectionVerdict, number>> = { clean: 0, suspicious: 1, injection: 2 };
/** The model alone reports `model.linear` when it leans this way, so a flag without a rule id is still explainable. */
const MODEL_SIGNAL_LOGIT = 0;

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const isIndirect = (source: InjectionSource): boolean => source === 'tool' || source === 'retrieved';

/** Head and tail of an oversized text: bounded cost, and injections sit at the edges far more than in the middle. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return text.slice(0, half) + '\n' + text.slice(text.length - half);
}

export function createInjectionGuard(config: InjectionConfigInput = {}, options: InjectionGuardOptions = {}): InjectionGuard {
  const cfg = injectionSchema.parse(config);
  const needModel = cfg.detector !== 'rules';
  const model = needModel ? loadLinearModel(options.model ?? INJECTION_MODEL) : null;
  const scanned = new Set<InjectionSource>(cfg.sources);
  const window = options.window ?? DEFAULT_WINDOW;

  function scan(text: string, source: InjectionSource): InjectionScan {
    if (!cfg.enabled || !scanned.has(source) || text.length === 0) return { ...CLEAN, signals: [] };
    const indirect = isIndirect(source);
    const norm = normalizeForInjection(clip(text, cfg.maxScanChars));
    const { evidence, signals } = cfg.detector === 'model' ? { evidence: 0, signals: [] as string[] } : evaluateRules(norm, indirect);
    let score: number;
    if (model === null) {
      score = 1 - Math.exp(-evidence);
    } else {
      const z = model.logit(norm.text, window);
      if (z > MODEL_SIGNAL_LOGIT) signals.push('model.linear');
      score = cfg.detector === 'model' ? sigmoid(z) : sigmoid(model.stack.a * z + model.stack.b * evidence + model.stack.c);
    }
    if (norm.text.length < text.length && text.length > cfg.maxScanChars) signals.push('input.truncated');
    const th = indirect ? cfg.thresholds.indirect : cfg.thresholds.user;
    const verdict: InjectionVerdict = score >= th.injection ? 'injection' : score >= th.suspicious ? 'suspicious' : 'clean';
    return { score, verdict, signals };
  }

  function scanRequest(request: ChatRequest): RequestScan {
    let score = 0;
    let verdict = 'clean' as InjectionVerdict;
    const signals = new Set<string>();
    const messages: MessageScan[] = [];
    for (let index = 0; index < request.messages.length; index++) {
      const m = request.messages[index]!;
      // Assistant turns are the model's own output (including its tool-call arguments); the
      // guard is about what flows *into* the model from outside.
      const source: InjectionSource | null = m.role === 'user' ? 'user' : m.role === 'tool' ? 'tool' : m.role === 'system' ? 'system' : null;
      if (source === null) continue;
      const s = scan(textOf(m.content), source);
      if (s.score > score) score = s.score;
      if (RANK[s.verdict] > RANK[verdict]) verdict = s.verdict;
      if (s.verdict !== 'clean') {
        for (const id of s.signals) signals.add(id);
        messages.push({ ...s, index, source });
      }
    }
    const decision: InjectionDecision = verdict === 'injection' ? cfg.action : verdict === 'suspicious' ? 'flag' : 'allow';
    const out: RequestScan = { score, verdict, signals: [...signals].sort(), decision, messages };
    if (decision === 'restrict') out.restrictTier = cfg.restrictTier;
    return out;
  }

  return { config: cfg, scan, scanRequest };
}

/** Convenience for callers that hold a guard and a request; same as guard.scanRequest. */
export function scanChatRequest(guard: InjectionGuard, request: ChatRequest): RequestScan {
  return guard.scanRequest(request);
}
