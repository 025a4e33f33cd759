import { z } from 'zod';

/**
 * The `classification:` section of the root config. Every field has a default, so
 * `classifierConfigSchema.parse({})` is a complete, working config.
 */

export const DEFAULT_LEVELS = ['public', 'internal', 'confidential', 'regulated'] as const;

/**
 * Built-in entity → rank (0 = lowest level, 3 = highest of the four defaults).
 * Ranks, not names, so that renaming the levels in config keeps the defaults
 * meaningful: rank r maps to levels[min(r, levels.length - 1)] scaled onto however
 * many levels are configured (see resolveRank in levels.ts).
 */
export const DEFAULT_ENTITY_RANKS: Readonly<Record<string, number>> = {
  // Government IDs, payment cards, bank accounts: regulated.
  CREDIT_CARD: 3, IBAN_CODE: 3, US_BANK_NUMBER: 3, US_SSN: 3, US_ITIN: 3, US_PASSPORT: 3, US_DRIVER_LICENSE: 3,
  UK_NINO: 3, UK_NHS: 3, DE_TAX_ID: 3, FR_NIR: 3, ES_NIF: 3, ES_NIE: 3, IT_FISCAL_CODE: 3, PL_PESEL: 3,
  IN_AADHAAR: 3, IN_PAN: 3, CA_SIN: 3, AU_TFN: 3, SG_NRIC_FIN: 3, MEDICAL_RECORD_NUMBER: 3,
  // Secrets and personal contact data: confidential.
  SECRET: 2, EMAIL_ADDRESS: 2, PHONE_NUMBER: 2, ADDRESS: 2, DATE_OF_BIRTH: 2, CRYPTO: 2, DENY_LIST: 2,
  // A lone name, internal hosts and device ids: internal.
  PERSON: 1, IP_ADDRESS: 1, MAC_ADDRESS: 1, NRP: 1, SPECIAL_CATEGORY: 1, MEDICAL_TERM: 1, ICD10_CODE: 1,
  // Alone these say nothing about anyone; they matter through the combination rules.
  URL: 0, LOCATION: 0, AGE: 0, ORGANIZATION: 0,
};

/** Entities that identify a person on their own (used by the combination rules). */
export const PERSON_IDENTIFIERS = [
  'PERSON', 'EMAIL_ADDRESS', 'PHONE_NUMBER', 'ADDRESS', 'DATE_OF_BIRTH', 'US_SSN', 'US_ITIN', 'US_PASSPORT',
  'US_DRIVER_LICENSE', 'UK_NINO', 'UK_NHS', 'DE_TAX_ID', 'FR_NIR', 'ES_NIF', 'ES_NIE', 'IT_FISCAL_CODE', 'PL_PESEL',
  'IN_AADHAAR', 'IN_PAN', 'CA_SIN', 'AU_TFN', 'SG_NRIC_FIN', 'MEDICAL_RECORD_NUMBER', 'CREDIT_CARD', 'IBAN_CODE',
  'US_BANK_NUMBER',
] as const;

const HEALTH = ['MEDICAL_TERM', 'ICD10_CODE', 'MEDICAL_RECORD_NUMBER'];
const SPECIAL = ['NRP', 'SPECIAL_CATEGORY'];
const CONTACT = ['EMAIL_ADDRESS', 'PHONE_NUMBER', 'ADDRESS', 'DATE_OF_BIRTH'];

const combination = z.strictObject({
  name: z.string().min(1),
  /** Fires when, for every inner list, at least one of its entities was found in the request. */
  requires: z.array(z.array(z.string().min(1)).min(1)).min(1),
  /** A level name, or a rank 0..3 of the default four (so it survives renamed levels). */
  level: z.union([z.string().min(1), z.number().int().min(0)]),
});
export type CombinationRule = z.infer<typeof combination>;

export const DEFAULT_COMBINATIONS: CombinationRule[] = [
  { name: 'health-about-person', requires: [HEALTH, [...PERSON_IDENTIFIERS]], level: 3 },
  { name: 'special-category-about-person', requires: [SPECIAL, [...PERSON_IDENTIFIERS]], level: 3 },
  { name: 'name-with-contact', requires: [['PERSON'], CONTACT], level: 2 },
  { name: 'name-with-location-and-age', requires: [['PERSON'], ['LOCATION'], ['AGE']], level: 2 },
];

const dictionary = z.strictObject({
  entity: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  terms: z.array(z.string().min(1).max(200)).max(100_000),
  caseSensitive: z.boolean().default(false),
  score: z.number().min(0).max(1).default(0.9),
});

const pattern = z.strictObject({
  entity: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  /** A JavaScript regular expression source. Compiled once, with the `g` flag added. */
  pattern: z.string().min(1).max(2000),
  flags: z.string().regex(/^[imsu]*$/).default(''),
  score: z.number().min(0).max(1).default(0.8),
  /** Words that, near a match, add `contextBoost` to its score. */
  context: z.array(z.string().min(1)).default([]),
});

export const DEFAULT_ALLOW_LIST = [
  // AWS and cloud product names that look like codes or IDs.
  'C4', 'C5', 'C6', 'C7', 'M5', 'M6', 'M7', 'R5', 'R6', 'T3', 'T4', 'S3', 'EC2', 'EKS', 'ECS', 'ECR', 'RDS', 'SQS', 'SNS',
  'IAM', 'KMS', 'VPC', 'GKE', 'AKS', 'K8S', 'P3', 'P4', 'G4', 'G5',
  // Documentation domains and examples that every tutorial contains.
  'example.com', 'example.org', 'example.net',
  'user@example.com', 'test@example.com',
];

export const classifierConfigSchema = z
  .strictObject({
    /** Level names, lowest first. */
    levels: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/)).min(2).max(16).default([...DEFAULT_LEVELS]),
    /** Findings below this score are dropped. */
    threshold: z.number().min(0).max(1).default(0.5),
    /** How much a context word near a candidate adds to its score (Presidio uses 0.35). */
    contextBoost: z.number().min(0).max(1).default(0.35),
    /** Entity → level name (or default rank) overrides, merged over the built-in table. */
    entityLevels: z.record(z.string(), z.union([z.string().min(1), z.number().int().min(0)])).default({}),
    /** Combination rules. Replaces the defaults when given. */
    combinations: z.array(combination).default(DEFAULT_COMBINATIONS),
    /** Detector ids (e.g. `person.lexicon`) or entity names to switch off. */
    disabled: z.array(z.string()).default([]),
    /** Matched values (case-insensitive, exact) that are never findings. */
    allowList: z.array(z.string().min(1)).default(DEFAULT_ALLOW_LIST),
    /** Regular-expression sources; a finding whose whole value matches one is dropped. */
    allowPatterns: z.array(z.string().min(1).max(2000)).default([]),
    /** Terms that always produce a DENY_LIST finding, case-insensitive, whole word. */
    denyList: z.array(z.string().min(1).max(200)).default([]),
    custom: z
      .strictObject({
        dictionaries: z.array(dictionary).default([]),
        patterns: z.array(pattern).default([]),
      })
      .default({ dictionaries: [], patterns: [] }),
    /** Regions libphonenumber-js tries for numbers written without a +country prefix. */
    phoneRegions: z
      .array(z.string().regex(/^[A-Z]{2}$/))
      .default(['US', 'GB', 'DE', 'FR', 'IL', 'IN', 'CA', 'BR', 'JP', 'CN', 'AU', 'ES', 'IT', 'NL']),
    /** Also scan the concatenation of all segments, to catch values split across messages. */
    crossSegment: z.boolean().default(true),
    budget: z
      .strictObject({
        /** A detector that takes longer than this on one text fails the request closed. */
        perDetectorMs: z.number().positive().default(250),
        /** The whole classification; past it the request fails closed. */
        totalMs: z.number().positive().default(2_000),
      })
      .default({ perDetectorMs: 250, totalMs: 2_000 }),
    /**
     * Findings of segments already scanned, reused when the same field holds the same text
     * again (a chat resends its history every turn). `maxChars: 0` turns it off.
     */
    cache: z
      .strictObject({
        /** Characters of segment text kept, all entries together (about 2 bytes each). */
        maxChars: z.number().int().min(0).default(4_000_000),
        /** Shorter segments are scanned every time: they cost less than an entry. */
        minChars: z.number().int().min(1).default(256),
      })
      .default({ maxChars: 4_000_000, minChars: 256 }),
  })
  .superRefine((cfg, ctx) => {
    const names = new Set(cfg.levels);
    if (names.size !== cfg.levels.length) ctx.addIssue({ code: 'custom', path: ['levels'], message: 'level names must be unique' });
    for (const [entity, level] of Object.entries(cfg.entityLevels)) {
      if (typeof level === 'string' && !names.has(level)) {
        ctx.addIssue({ code: 'custom', path: ['entityLevels', entity], message: `unknown level "${level}"` });
      }
    }
    cfg.combinations.forEach((c, i) => {
      if (typeof c.level === 'string' && !names.has(c.level)) {
        ctx.addIssue({ code: 'custom', path: ['combinations', i, 'level'], message: `unknown level "${c.level}"` });
      }
    });
    cfg.allowPatterns.forEach((p, i) => {
      if (!isRegex(p, 'u')) ctx.addIssue({ code: 'custom', path: ['allowPatterns', i], message: 'not a valid regular expression' });
    });
    cfg.custom.patterns.forEach((p, i) => {
      if (!isRegex(p.pattern, p.flags)) {
        ctx.addIssue({ code: 'custom', path: ['custom', 'patterns', i, 'pattern'], message: 'not a valid regular expression' });
      }
    });
  });

export type ClassifierConfig = z.output<typeof classifierConfigSchema>;
export type ClassifierConfigInput = z.input<typeof classifierConfigSchema>;

function isRegex(source: string, flags: string): boolean {
  try {
    new RegExp(source, flags);
    return true;
  } catch {
    return false;
  }
}
