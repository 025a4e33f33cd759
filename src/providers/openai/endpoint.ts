import type { Secret } from '../../config/secrets.js';

/**
 * Where an OpenAI-protocol backend takes its calls and how it wants the key. Plain
 * OpenAI-compatible servers and Azure OpenAI speak the same bodies and streams and
 * differ only here, so one provider serves both with one of these strategies.
 */
export interface OpenAiEndpoint {
  chatPath(upstreamModel: string): string;
  embeddingsPath(upstreamModel: string): string;
  /** Static headers for every call, credential included. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * OpenAI and compatible servers (vLLM, TGI, llama.cpp, Ollama). Following the
 * OpenAI SDK's baseURL convention, the configured baseUrl includes the version
 * prefix: `https://api.openai.com/v1` → POST /v1/chat/completions.
 */
export function openAiEndpoint(basePath: string, credential: Secret | undefined): OpenAiEndpoint {
  const chat = `${basePath}/chat/completions`;
  const embeddings = `${basePath}/embeddings`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credential !== undefined) headers['authorization'] = `Bearer ${credential.reveal()}`;
  return {
    chatPath: () => chat,
    embeddingsPath: () => embeddings,
    headers,
  };
}

/**
 * Azure OpenAI. The baseUrl is the resource endpoint (`https://res.openai.azure.com`),
 * the upstream model is the deployment name, and the key goes in `api-key`.
 */
export function azureOpenAiEndpoint(basePath: string, apiVersion: string, credential: Secret | undefined): OpenAiEndpoint {
  const query = `?api-version=${encodeURIComponent(apiVersion)}`;
  // Deployments are few and fixed by config, so the paths are built once each.
  const chat = new Map<string, string>();
  const embeddings = new Map<string, string>();
  const path = (cache: Map<string, string>, deployment: string, operation: string): string => {
    let value = cache.get(deployment);
    if (value === undefined) {
      value = `${basePath}/openai/deployments/${encodeURIComponent(deployment)}/${operation}${query}`;
      cache.set(deployment, value);
    }
    return value;
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credential !== undefined) headers['api-key'] = credential.reveal();
  return {
    chatPath: (deployment) => path(chat, deployment, 'chat/completions'),
    embeddingsPath: (deployment) => path(embeddings, deployment, 'embeddings'),
    headers,
  };
}
