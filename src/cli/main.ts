#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/loader.js';
import { isGatewayError } from '../domain/errors.js';
import { serve } from '../main.js';
import { startSimulator, type SimulatorHandle } from '../simulator/index.js';
import { resolveGatewaySecret } from '../identity/gateway-secret.js';
import { openKeyService } from '../identity/setup.js';
import { ModelCatalog } from '../route/catalog.js';
import { runAuditCli } from './audit.js';
import { runFederationDemo } from './federation-demo.js';
import { runBundlesCli } from './bundles.js';
import { runBasesCli } from './bases.js';
import { isClusterPrimary, leaveClusterOnFailure, parseWorkers, serveCluster } from './cluster.js';
import { classifyLines } from './classify.js';
import { keysCommand } from './keys.js';
import { runReportCli } from './report.js';
import { explainFile } from './explain.js';
import { simulateConfigBackends } from './simulate.js';
import { validateConfigFile } from './validate.js';

const USAGE = `perimeter — a hybrid AI gateway that routes on data sensitivity

Usage:
  perimeter serve    --config perimeter.yaml [--port N] [--workers N|auto]
                                                          run the gateway (--workers: N processes on one port)
  perimeter validate <file> [--check-secrets]             check a config; exit 1 on errors
  perimeter simulate --config <file>                      simulated backends for a config's loopback URLs
  perimeter simulate --port N [--name NAME] [--no-record] one simulated backend
  perimeter explain  --config F request.json [--workload W] [--sensitivity L] [--latency low]
                                                          the routing decision for a chat request, no backend called
  perimeter keys     create|list|revoke|rotate --config F   API keys in the configured key store
  perimeter audit    verify|export --config F               the hash-chained audit trail
  perimeter report   residency|usage|tiers|cost --config F  reports from the decision records
  perimeter classify [--config F] [--sensitivity LEVEL]   JSONL {"text"} or chat requests on stdin → JSONL findings
  perimeter bundles  keygen|sign|verify                   signed dictionary and policy bundles (docs/bundles.md)
  perimeter bases    ingest|search [--url URL] ...          add documents to a Base, search Bases (key from PERIMETER_API_KEY)
  perimeter demo     [--port N]                           simulated tiers + gateway on examples/demo.yaml
  perimeter demo-federation                               a cloud and an on-prem deployment, federated (docs/federation.md)
`;

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function port(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port: expected an integer from 0 to 65535, got "${value}"`);
  return n;
}

class UsageError extends Error {}

function onShutdown(close: () => Promise<unknown>): void {
  const stop = (): void => {
    void close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, port: { type: 'string' }, workers: { type: 'string' } } });
      const configPath = values.config ?? 'perimeter.yaml';
      const p = port(values.port);
      const workers = parseWorkers(values.workers);
      // The primary only supervises; each worker re-runs this command and serves below.
      if (isClusterPrimary(workers)) return serveCluster(configPath, p === undefined ? {} : { port: p }, { workers });
      await serve(configPath, p === undefined ? {} : { port: p }).catch(leaveClusterOnFailure);
      return -1;
    }
    case 'validate': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { config: { type: 'string', short: 'c' }, 'check-secrets': { type: 'boolean' } },
      });
      const file = positionals[0] ?? values.config;
      if (file === undefined) throw new UsageError('validate: name the config file');
      const result = validateConfigFile(file, values['check-secrets'] === true);
      (result.ok ? process.stdout : process.stderr).write(`${result.lines.join('\n')}\n`);
      return result.ok ? 0 : 1;
    }
    case 'simulate': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string', short: 'c' },
          port: { type: 'string' },
          name: { type: 'string' },
          'no-record': { type: 'boolean' },
        },
      });
      // Benchmarks turn recording off so the upstream costs as little as possible.
      const record = values['no-record'] !== true;
      let sims: SimulatorHandle[];
      if (values.config !== undefined) sims = await simulateConfigBackends(loadConfig(values.config).config, { record });
      else sims = [await startSimulator({ port: port(values.port) ?? 9101, name: values.name ?? 'sim', record })];
      for (const s of sims) process.stdout.write(`simulator ${s.name} on ${s.url}\n`);
      onShutdown(() => Promise.all(sims.map((s) => s.close())));
      return -1;
    }
    case 'explain': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          config: { type: 'string', short: 'c' },
          workload: { type: 'string' },
          sensitivity: { type: 'string' },
          latency: { type: 'string' },
        },
      });
      const file = positionals[0];
      if (file === undefined) throw new UsageError('explain: name the request file (an OpenAI chat request body)');
      const explanation = await explainFile(loadConfig(values.config ?? 'perimeter.yaml'), file, {
        ...(values.workload === undefined ? {} : { workload: values.workload }),
        ...(values.sensitivity === undefined ? {} : { sensitivity: values.sensitivity }),
        lowLatency: values.latency === 'low',
      });
      process.stdout.write(`${JSON.stringify(explanation, null, 2)}\n`);
      return explanation.refusal === undefined ? 0 : 2;
    }
    case 'keys':
    case 'audit':
    case 'report': {
      // These take --config anywhere among their own arguments; the rest is theirs.
      const at = rest.findIndex((a) => a === '--config' || a === '-c');
      const configPath = at >= 0 ? rest[at + 1] : 'perimeter.yaml';
      if (configPath === undefined) throw new UsageError(`${command}: --config needs a file`);
      const args = at >= 0 ? [...rest.slice(0, at), ...rest.slice(at + 2)] : rest;
      const loaded = loadConfig(configPath);
      const { config } = loaded;
      const resolveSecret = (ref: string): string => resolveGatewaySecret(ref, loaded.gatewayEnv, config.secrets).reveal();
      const io = { stdout: process.stdout, stderr: process.stderr };
      if (command === 'keys') {
        const keys = await openKeyService(config.auth, { env: loaded.gatewayEnv, tierSources: config.secrets });
        return keysCommand(args, { keys, out: process.stdout, err: process.stderr, knownRoles: Object.keys(config.auth.roles) });
      }
      const ctx = { deploymentId: config.deployment.id, records: config.records, audit: config.audit, resolveSecret, ...io };
      if (command === 'audit') return runAuditCli(args, ctx);
      return runReportCli(args, { ...ctx, cost: config.cost, catalog: new ModelCatalog(config).entries, levels: config.classification.levels });
    }
    case 'bases':
      // A client of a running gateway; the key comes from the environment, never from argv (ps would show it).
      return runBasesCli(rest, { stdout: process.stdout, stderr: process.stderr, apiKey: process.env.PERIMETER_API_KEY });
    case 'classify': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, sensitivity: { type: 'string' } } });
      const config = values.config === undefined ? {} : loadConfig(values.config).config.classification;
      const labels = values.sensitivity === undefined ? [] : [values.sensitivity.trim().toLowerCase()];
      const failed = await classifyLines(process.stdin, process.stdout, config, labels);
      return failed > 0 ? 1 : 0;
    }
    case 'bundles':
      return runBundlesCli(rest, { stdout: process.stdout, stderr: process.stderr });
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { port: { type: 'string' }, config: { type: 'string' } } });
      const configPath = values.config ?? join(packageRoot, 'examples', 'demo.yaml');
      if (!existsSync(configPath)) throw new UsageError(`demo config not found: ${configPath}`);
      const sims = await simulateConfigBackends(loadConfig(configPath).config, { ttftMs: 40, tokensPerSecond: 80 });
      const p = port(values.port);
      const running = await serve(configPath, p === undefined ? {} : { port: p });
      const url = running.url;
      process.stdout.write(
        [
          '',
          `Perimeter demo is running. Gateway: ${url}`,
          ...sims.map((s) => `  simulated ${s.name.padEnd(13)} ${s.url}   (what it received: ${s.url}/_sim/received)`),
          '',
          'Try:',
          `  curl -s ${url}/v1/models -H 'authorization: Bearer sk-perimeter-demo' | jq '.data[] | {id, perimeter}'`,
          `  curl -s ${url}/v1/chat/completions -H 'authorization: Bearer sk-perimeter-demo' -H 'content-type: application/json' \\`,
          `    -d '{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"Hello"}]}' -i`,
          '  # regulated data asking for a public model is refused, naming the level, rule and allowed tiers:',
          `  curl -s ${url}/v1/chat/completions -H 'authorization: Bearer sk-perimeter-demo' -H 'content-type: application/json' \\`,
          `    -d '{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"refund card 4111 1111 1111 1111"}]}'`,
          '  # why a request would go where it goes, without sending it:',
          `  curl -s ${url}/v1/perimeter/explain -H 'authorization: Bearer sk-perimeter-demo' -H 'content-type: application/json' -H 'x-perimeter-workload: research' \\`,
          `    -d '{"model":"perimeter/auto","messages":[{"role":"user","content":"Summarise the tide tables"}]}'`,
          '',
          `Dashboard: ${url}/ui  (sign in with the demo-only admin key sk-perimeter-demo-admin)`,
          `OpenAI SDK: new OpenAI({ baseURL: '${url}/v1', apiKey: 'sk-perimeter-demo' })`,
          `Anthropic SDK: new Anthropic({ baseURL: '${url}', apiKey: 'sk-perimeter-demo' })  (sk-perimeter-demo is a demo-only key)`,
          'Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
      const stopSims = (): void => {
        void Promise.all(sims.map((s) => s.close()));
      };
      process.once('SIGTERM', stopSims);
      process.once('SIGINT', stopSims);
      return -1;
    }
    case 'demo-federation': {
      const running = await runFederationDemo({ cliPath: fileURLToPath(import.meta.url), dir: resolve('data', 'federation'), out: process.stdout });
      onShutdown(() => running.stop());
      return -1;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    // -1: a server is running and the process lives until a signal. Other commands
    // exit now, even if a store client (a Postgres pool) would keep the loop alive.
    // process.exit drops output still queued for a pipe (`audit export | …` lost entries): flush first.
    if (code >= 0) process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`perimeter: ${err.message}\n\n${USAGE}`);
    else if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else if (isGatewayError(err)) process.stderr.write(`perimeter: ${err.code}: ${err.message}\n`);
    else if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE') process.stderr.write(`perimeter: ${err.message}\n`);
    else process.stderr.write(`perimeter: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
