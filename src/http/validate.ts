import type { z } from 'zod';
import { formatIssues, formatPath } from '../config/issues.js';
import { GatewayError } from '../domain/errors.js';

/**
 * Deeper than any real request (tool schemas nest a few dozen levels). Schema
 * validation and the field walks after it recurse once per level and overflow the
 * stack at a few thousand levels, which a 1 MB body can easily reach.
 */
export const MAX_BODY_DEPTH = 256;

/** Parses a wire body with its schema, or throws invalid_request naming each bad field (never its value). */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (nestsDeeperThan(body, MAX_BODY_DEPTH)) {
    throw new GatewayError('invalid_request', `Invalid request: JSON is nested more than ${MAX_BODY_DEPTH} levels deep.`);
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const lines = formatIssues(issues);
  const shown = lines.slice(0, 5).join('; ') + (lines.length > 5 ? `; and ${lines.length - 5} more` : '');
  const first = issues[0];
  const options = first === undefined ? {} : { param: formatPath(first.path) };
  throw new GatewayError('invalid_request', `Invalid request: ${shown}`, options);
}

/** An explicit stack rather than recursion: the input is exactly what could overflow one. */
function nestsDeeperThan(root: unknown, limit: number): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop() ?? 0;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
