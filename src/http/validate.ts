import type { z } from 'zod';
import { formatIssues, formatPath } from '../config/issues.js';
import { GatewayError } from '../domain/errors.js';

/** Parses a wire body with its schema, or throws invalid_request naming each bad field (never its value). */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const lines = formatIssues(issues);
  const shown = lines.slice(0, 5).join('; ') + (lines.length > 5 ? `; and ${lines.length - 5} more` : '');
  const first = issues[0];
  const options = first === undefined ? {} : { param: formatPath(first.path) };
  throw new GatewayError('invalid_request', `Invalid request: ${shown}`, options);
}
