import { z } from 'zod';
import { postgresStoreSchema } from '../../record/config.js';

/*
 * The `bases:` section: knowledge Bases whose home is THIS deployment. Every field
 * has a default, so a config without the section has no Bases and opens no store.
 */

const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

const sqliteStore = z.strictObject({
  kind: z.literal('sqlite'),
  /** Database file; relative paths are relative to the working directory (as records.store.path). */
  path: z.string().min(1).default('perimeter-bases.db'),
});

const storeSchema = z.discriminatedUnion('kind', [sqliteStore, postgresStoreSchema]);

/** Hard ceiling for snippets: longer ones would be documents by another name. */
export const MAX_SNIPPET_CHARS = 1000;

const definition = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  /** A classification level name: the most sensitive data this Base may hold. */
  level: z.string().min(1),
  /**
   * Who may read it: a principal whose groups or roles meet one of these lists (and
   * whose role's `bases` allowlist names the Base). Both empty = nobody.
   */
  access: z
    .strictObject({
      groups: z.array(z.string().min(1)).default([]),
      roles: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /** Which peer deployments may search it (snippets only) or retrieve from it (for RAG); none by default. */
  peers: z
    .strictObject({
      search: z.array(z.union([id, z.literal('*')])).default([]),
      retrieve: z.array(id).default([]),
    })
    .prefault({}),
});

export const basesConfigSchema = z
  .strictObject({
    store: storeSchema.default({ kind: 'sqlite', path: 'perimeter-bases.db' }),
    chunk: z
      .strictObject({
        maxChars: z.number().int().min(200).max(20_000).default(1200),
        overlapChars: z.number().int().min(0).max(5000).default(150),
      })
      .prefault({})
      .refine((c) => c.overlapChars < c.maxChars / 2, { message: 'overlapChars must be under half of maxChars', path: ['overlapChars'] }),
    /** Longest snippet returned by search. */
    snippetChars: z.number().int().min(40).max(MAX_SNIPPET_CHARS).default(300),
    /**
     * Findings above this level are masked in snippets unless a call asks for less.
     * Unset = the level just below the highest (regulated values are masked by default).
     */
    snippetLevel: z.string().min(1).optional(),
    /** Largest document accepted (raw bytes, before extraction). */
    maxDocumentBytes: z.number().int().positive().max(256 * 1024 * 1024).default(20 * 1024 * 1024),
    maxPdfPages: z.number().int().positive().max(100_000).default(2000),
    /** An embedding model served through this gateway; search then fuses BM25 and vector ranks. */
    embeddings: z.strictObject({ model: z.string().min(1).max(200) }).optional(),
    definitions: z.array(definition).default([]),
    /** Retrieval-augmented chat: `perimeter.bases` in a request, or these per-workload defaults. */
    rag: z
      .strictObject({
        /** workload → Bases it retrieves from when a request names none. */
        workloads: z.record(z.string().min(1), z.array(id).min(1).max(8)).default({}),
        /** Chunks put in front of the model at most. */
        maxChunks: z.number().int().min(1).max(20).default(5),
      })
      .prefault({}),
    /** Searching peers' Bases. */
    federation: z
      .strictObject({
        /** The most sensitive search query sent to a cloud-zone peer; a more sensitive one stays on-prem. */
        maxQueryLevelToCloud: z.string().min(1).default('internal'),
        /** How long a fan-out waits for peers; a slower peer is reported down for that call. */
        deadlineMs: z.number().int().positive().max(60_000).default(3_000),
      })
      .prefault({}),
  })
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.definitions.forEach((d, i) => {
      if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: ['definitions', i, 'id'], message: `duplicate Base id "${d.id}"` });
      seen.add(d.id);
    });
  });

export type BasesConfig = z.output<typeof basesConfigSchema>;
export type BasesConfigInput = z.input<typeof basesConfigSchema>;
export type BaseDefinition = BasesConfig['definitions'][number];
export type BasesStoreConfig = BasesConfig['store'];

/** Cross-section checks the loader runs: every level named here must be a classification level. */
export function basesLevelProblems(bases: BasesConfig, levels: readonly string[]): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  bases.definitions.forEach((d, i) => {
    if (!levels.includes(d.level)) problems.push({ path: ['definitions', i, 'level'], message: `unknown level "${d.level}" (levels: ${levels.join(', ')})` });
  });
  if (!levels.includes(bases.federation.maxQueryLevelToCloud)) {
    problems.push({ path: ['federation', 'maxQueryLevelToCloud'], message: `unknown level "${bases.federation.maxQueryLevelToCloud}"` });
  }
  if (bases.snippetLevel !== undefined && !levels.includes(bases.snippetLevel)) {
    problems.push({ path: ['snippetLevel'], message: `unknown level "${bases.snippetLevel}"` });
  }
  return problems;
}
