import { z } from 'zod';

/**
 * The `injection:` section of the protect config. Every field has a default, so
 * `injectionSchema.parse({})` is a complete, working config.
 */

export const INJECTION_SOURCES = ['user', 'tool', 'retrieved', 'system'] as const;
export type InjectionSource = (typeof INJECTION_SOURCES)[number];

const thresholdPair = z
  .strictObject({
    /** Score at or above which the verdict is at least `suspicious` (flagged, never blocked). */
    suspicious: z.number().min(0).max(1),
    /** Score at or above which the verdict is `injection` and `action` applies. */
    injection: z.number().min(0).max(1),
  })
  .refine((t) => t.suspicious <= t.injection, { message: 'suspicious must not exceed injection' });

export const injectionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * What an `injection` verdict does: `flag` (header + log only), `block` (refuse the
   * request) or `restrict` (route only to `restrictTier`, e.g. keep it on-prem where a
   * hijacked model can't reach the internet). `suspicious` verdicts are only flagged.
   */
  action: z.enum(['flag', 'block', 'restrict']).default('flag'),
  restrictTier: z.string().min(1).default('on-prem'),
  /** Which message sources are scanned. The system prompt is the operator's own text, so off by default. */
  sources: z.array(z.enum(INJECTION_SOURCES)).default(['user', 'tool', 'retrieved']),
  /** `combined` = rules + linear model (best on the held-out data); the others exist for A/B and debugging. */
  detector: z.enum(['combined', 'rules', 'model']).default('combined'),
  thresholds: z
    .strictObject({
      user: thresholdPair.default({ suspicious: 0.5, injection: 0.8 }),
      /**
       * Tool output and retrieved documents: stricter (lower) thresholds, because
       * content the user did not write has no business issuing instructions (indirect
       * injection), and a false positive there costs a flag, not a refused user.
       */
      indirect: thresholdPair.default({ suspicious: 0.35, injection: 0.6 }),
    })
    .prefault({}),
  /**
   * Texts longer than this are scanned at head and tail only (half each), which bounds the
   * per-request cost; attacks hide at the start or the end far more than in the middle.
   */
  maxScanChars: z.number().int().min(256).default(131_072),
});

export type InjectionConfig = z.infer<typeof injectionSchema>;
export type InjectionConfigInput = z.input<typeof injectionSchema>;
