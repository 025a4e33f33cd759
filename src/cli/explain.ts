import { readFileSync } from 'node:fs';
import { compose } from '../compose.js';
import type { LoadedConfig } from '../config/loader.js';
import { ANONYMOUS } from '../domain/principal.js';
import { chatRequestFromOpenAI } from '../http/openai/mapper.js';
import { openAIChatRequest } from '../http/openai/schema.js';
import { parseBody } from '../http/validate.js';
import { newRequestContext } from '../pipeline/context.js';
import type { Explanation } from '../pipeline/pipeline.js';
import { createLogger } from '../telemetry/logger.js';

export interface ExplainOptions {
  sensitivity?: string;
  workload?: string;
  lowLatency?: boolean;
}

/**
 * `perimeter explain`: the decision serving would make for a chat request, from
 * the same composed pipeline, without calling a backend.
 */
export async function explainFile(loaded: LoadedConfig, requestPath: string, options: ExplainOptions): Promise<Explanation> {
  const body = parseBody(openAIChatRequest, JSON.parse(readFileSync(requestPath, 'utf8')) as unknown);
  const gateway = await compose(loaded, { logger: createLogger('silent') });
  try {
    const labels = [options.sensitivity, body.metadata?.perimeter_sensitivity].filter((l): l is string => l !== undefined).map((l) => l.trim().toLowerCase());
    return await gateway.live.current.pipeline.explainChat(
      chatRequestFromOpenAI(body),
      newRequestContext({
        requestId: 'explain',
        signal: new AbortController().signal,
        receivedAt: 0,
        // The CLI runs as the anonymous principal with the roles config gives anonymous callers.
        principal: { ...ANONYMOUS, roles: loaded.config.auth.anonymousRoles },
        callerLabels: labels,
        workloadHeader: options.workload,
        preferLowLatency: options.lowLatency === true,
      }),
    );
  } finally {
    await gateway.closeResources();
  }
}
