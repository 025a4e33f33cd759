import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from './dev-pki.js';

/*
 * A two-deployment federation on loopback for the demo (`npm run demo:federation`) and
 * the federation tests: a cloud deployment and an on-prem one, each a real gateway
 * process with its own records, audit trail and Bases, joined by mTLS, sharing one
 * (development) OIDC issuer, with the cloud publishing signed dictionary/policy bundles
 * the on-prem side applies. Optionally a third "branch" deployment that trusts the wrong
 * bundle key, to show a bundle that does not verify being refused.
 */

export interface DeploymentPorts {
  readonly api: number;
  readonly federation: number;
}

export interface FederationDemoPlan {
  readonly dir: string;
  readonly issuer: { readonly issuer: string; readonly jwksUrl: string; readonly audience: string };
  readonly ports: { readonly cloud: DeploymentPorts; readonly onprem: DeploymentPorts; readonly branch?: DeploymentPorts | undefined };
  /** Simulated backends: on-prem for the on-prem deployment, private-cloud and public-api for the cloud one. */
  readonly sims: { readonly onprem: string; readonly privateCloud: string; readonly publicApi: string };
  /** Rate limit each deployment applies to the other's calls. */
  readonly peerRateLimit?: { readonly requestsPerMinute: number; readonly burst: number };
  readonly logLevel?: string;
}

export interface FederationFiles {
  readonly pki: DevPki;
  readonly configs: { readonly cloud: string; readonly onprem: string; readonly branch?: string | undefined };
  /** Per deployment: its records database (the audit trail lives there too). */
  readonly records: Readonly<Record<string, string>>;
}

const q = (s: string): string => JSON.stringify(s);

/** Writes certificates, bundle keys and the gateway configs into plan.dir. */
export function writeFederationDemo(plan: FederationDemoPlan): FederationFiles {
  mkdirSync(plan.dir, { recursive: true });
  const ids = plan.ports.branch === undefined ? ['cloud', 'onprem'] : ['cloud', 'onprem', 'branch'];
  const pki = makeDevPki(join(plan.dir, 'pki'), ids);
  const signing = generateKeyPairSync('ed25519');
  const wrong = generateKeyPairSync('ed25519');
  const signingKey = join(plan.dir, 'pki', 'bundle-signing.key');
  writeFileSync(signingKey, signing.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const publicKey = signing.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const wrongPublicKey = wrong.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rate = plan.peerRateLimit ?? { requestsPerMinute: 600, burst: 60 };
  const level = plan.logLevel ?? 'info';
  const records: Record<string, string> = {};

  const common = (id: string, zone: 'cloud' | 'on-prem', ports: DeploymentPorts): string => {
    const cert = pki.deployments[id];
    if (cert === undefined) throw new Error(`no certificate for ${id}`);
    records[id] = join(plan.dir, `${id}-records.db`);
    return `
version: 1
deployment: { id: ${id}, zone: ${zone} }
server: { host: 127.0.0.1, port: ${ports.api}, drainTimeoutMs: 2000 }
logging: { level: ${level} }
records:
  store: { kind: sqlite, path: ${q(records[id])} }
  queue: { spillPath: ${q(join(plan.dir, `${id}-records.spill.jsonl`))}, journalDir: ${q(join(plan.dir, `${id}-journal`))} }
# One identity across deployments: the same OIDC issuer, validated on each side.
auth:
  required: true
  issuers:
    - name: corp
      issuer: ${q(plan.issuer.issuer)}
      jwksUrl: ${q(plan.issuer.jwksUrl)}
      audience: ${q(plan.issuer.audience)}
      groupRoles: { kb-admins: [admin], staff: [user], clinical: [user] }
  # Demo only: an API key is this deployment's own; it is never forwarded to a peer.
  keys: [{ id: ${id}-demo, insecurePlaintext: sk-perimeter-${id}-demo, owner: demo, team: demo }]
federation:
  listen: { host: 127.0.0.1, port: ${ports.federation}, tls: { cert: ${q(`file:${cert.cert}`)}, key: ${q(`file:${cert.key}`)}, ca: ${q(`file:${pki.ca}`)} } }
  healthIntervalMs: 5000
`;
  };
  const peer = (id: string, zone: 'cloud' | 'on-prem', ports: DeploymentPorts, operations: string, calls: string): string => `
    - id: ${id}
      zone: ${zone}
      url: https://127.0.0.1:${ports.federation}
      operations: [${operations}]
      calls: [${calls}]
      rateLimit: { requestsPerMinute: ${rate.requestsPerMinute}, burst: ${rate.burst} }
`;
  // The shared policy: regulated stays on-prem, internal never goes to a public API.
  const policy = `
classification:
  custom:
    dictionaries:
      - { entity: PROJECT_CODENAME, terms: [BLUEHERON, KESTREL-7] }
policy:
  matrix:
    regulated:    { any: [on-prem] }
    confidential: { any: [on-prem, private-cloud] }
    internal:     { any: [on-prem, private-cloud] }
    public:       { any: [public-api, private-cloud, on-prem] }
`;
  const cloud = `${common('cloud', 'cloud', plan.ports.cloud)}  peers:${peer('onprem', 'on-prem', plan.ports.onprem, 'health, models, bases.list, bases.search, bases.retrieve, bases.move, bundles.pull', 'health, models, bases.list, bases.search, bases.retrieve, bases.move')}${
    plan.ports.branch === undefined ? '' : peer('branch', 'on-prem', plan.ports.branch, 'health, bundles.pull', 'health')
  }${policy}
bundles:
  publish: { signingKey: ${q(`file:${signingKey}`)}, keyId: corp-1, stateFile: ${q(join(plan.dir, 'cloud-bundle-counter.json'))} }
bases:
  store: { kind: sqlite, path: ${q(join(plan.dir, 'cloud-bases.db'))} }
  definitions:
    - { id: product-docs, name: Product documentation, level: public, access: { groups: [staff] }, peers: { search: ['*'], retrieve: [onprem] } }
    - { id: policies, name: Company policies, level: internal, access: { groups: [staff] }, peers: { search: ['*'] } }
backends:
  - id: private-azure
    tier: private-cloud
    region: eu-west
    protocol: openai
    baseUrl: ${plan.sims.privateCloud}/v1
    models: [{ id: gpt-4o, capability: frontier }]
  - id: public-openai
    tier: public-api
    region: us-east
    protocol: openai
    baseUrl: ${plan.sims.publicApi}/v1
    models: [{ id: gpt-4.1-mini, capability: mid }]
`;
  const onprem = `${common('onprem', 'on-prem', plan.ports.onprem)}  peers:${peer('cloud', 'cloud', plan.ports.cloud, 'health, models, bases.list, bases.search, bases.retrieve, bases.move', 'health, models, bases.list, bases.search, bases.retrieve, bases.move, bundles.pull')}${policy}
bundles:
  subscribe:
    from: cloud
    trustedKeys: [{ keyId: corp-1, publicKey: ${q(publicKey)} }]
    stateFile: ${q(join(plan.dir, 'onprem-bundle.json'))}
    intervalMs: 2000
bases:
  store: { kind: sqlite, path: ${q(join(plan.dir, 'onprem-bases.db'))} }
  rag:
    workloads: { hr-assistant: [handbook] }
  definitions:
    - { id: clinical-notes, name: Clinical notes, level: regulated, access: { groups: [clinical] }, peers: { search: [cloud] } }
    - { id: handbook, name: Staff handbook, level: internal, access: { groups: [staff] }, peers: { search: ['*'], retrieve: [cloud] } }
backends:
  - id: onprem-vllm
    tier: on-prem
    region: eu-central
    protocol: openai
    baseUrl: ${plan.sims.onprem}/v1
    maxConcurrency: 16
    models: [{ id: llama-3.1-8b-instruct, capability: basic }, { id: llama-3.3-70b-instruct, capability: frontier }]
`;
  const branch =
    plan.ports.branch === undefined
      ? undefined
      : `${common('branch', 'on-prem', plan.ports.branch)}  peers:${peer('cloud', 'cloud', plan.ports.cloud, 'health', 'health, bundles.pull')}${policy}
# This deployment was given the wrong key for corp-1: every bundle from the cloud fails verification.
bundles:
  subscribe:
    from: cloud
    trustedKeys: [{ keyId: corp-1, publicKey: ${q(wrongPublicKey)} }]
    stateFile: ${q(join(plan.dir, 'branch-bundle.json'))}
    intervalMs: 2000
backends:
  - id: branch-vllm
    tier: on-prem
    region: eu-north
    protocol: openai
    baseUrl: ${plan.sims.onprem}/v1
    maxConcurrency: 4
    models: [{ id: llama-3.1-8b-instruct, capability: basic }]
`;
  const file = (name: string, text: string): string => {
    const path = join(plan.dir, `${name}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  return {
    pki,
    configs: { cloud: file('cloud', cloud), onprem: file('onprem', onprem), ...(branch === undefined ? {} : { branch: file('branch', branch) }) },
    records,
  };
}

/** Sample documents: synthetic, made up for the demo. */
export const DEMO_DOCUMENTS = [
  {
    deployment: 'onprem',
    baseId: 'handbook',
    documentId: 'travel-expenses',
    title: 'Travel and expenses',
    text: [
      '# Travel and expenses',
      '',
      'Book all travel through the internal travel portal at least fourteen days ahead.',
      'The daily meal allowance on business trips is 45 euros; hotel nights are capped at 160 euros in most cities and 220 euros in capitals.',
      'Expense claims must be filed within thirty days of the trip, with receipts attached. Claims above 1,000 euros need a second approver.',
      '',
      '## Equipment',
      '',
      'Laptops are replaced every four years. Monitors and headsets are ordered through the equipment catalogue.',
    ].join('\n'),
  },
  {
    deployment: 'onprem',
    baseId: 'clinical-notes',
    documentId: 'ward-7-handover',
    title: 'Ward 7 handover',
    text: [
      '# Ward 7 handover',
      '',
      'Patient MRN 4820193, SSN 536-90-4399, admitted with community-acquired pneumonia; oxygen weaned to room air.',
      'Continue oral amoxicillin for five more days; review chest X-ray on Thursday. Travel history: none.',
      'Family asked for a call before discharge. Fall risk assessment repeated this morning: low.',
    ].join('\n'),
  },
  {
    deployment: 'cloud',
    baseId: 'product-docs',
    documentId: 'release-notes-4-2',
    title: 'Release notes 4.2',
    text: 'Release 4.2 adds offline sync for the mobile app, faster search, and travel mode for the calendar. Upgrade from 4.1 keeps all settings.',
  },
] as const;

/** SIGTERM to each (they drain), resolved once all have exited. */
export async function stopProcesses(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
}

/** Starts a gateway process on a config and resolves once it answers /healthz. */
export async function startGatewayProcess(cliPath: string, config: string, port: number, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const keep = (b: Buffer): void => {
    output = (output + b.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway on ${config} exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway on ${config} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

export interface FederationDemoOptions {
  readonly cliPath: string;
  readonly dir: string;
  readonly out: NodeJS.WritableStream;
}

export interface RunningFederationDemo {
  stop(): Promise<void>;
}

/**
 * `perimeter demo-federation`: a cloud and an on-prem deployment on loopback with a dev
 * OIDC issuer, simulated tiers and sample documents, then the commands to try.
 */
export async function runFederationDemo(options: FederationDemoOptions): Promise<RunningFederationDemo> {
  const { startDevIssuer } = await import('../simulator/oidc.js');
  const { startSimulator } = await import('../simulator/server.js');
  const issuer = await startDevIssuer({ port: 9180 });
  const sims = {
    onprem: await startSimulator({ port: 9201, name: 'on-prem', ttftMs: 40, tokensPerSecond: 80 }),
    privateCloud: await startSimulator({ port: 9202, name: 'private-cloud', ttftMs: 40, tokensPerSecond: 80 }),
    publicApi: await startSimulator({ port: 9203, name: 'public-api', ttftMs: 40, tokensPerSecond: 80 }),
  };
  const ports = { cloud: { api: 8080, federation: 8443 }, onprem: { api: 8081, federation: 8444 } };
  const files = writeFederationDemo({
    dir: options.dir,
    issuer: { issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, audience: issuer.audience },
    ports,
    sims: { onprem: sims.onprem.url, privateCloud: sims.privateCloud.url, publicApi: sims.publicApi.url },
    logLevel: 'warn',
  });
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await stopProcesses(children);
    await issuer.close();
    await Promise.all(Object.values(sims).map((s) => s.close()));
  };
  try {
    children.push(await startGatewayProcess(options.cliPath, files.configs.cloud, ports.cloud.api));
    children.push(await startGatewayProcess(options.cliPath, files.configs.onprem, ports.onprem.api));
    const carol = await issuer.token({ sub: 'carol', groups: ['kb-admins', 'staff', 'clinical'], expiresInSeconds: 86_400 });
    for (const doc of DEMO_DOCUMENTS) {
      const home = doc.deployment === 'cloud' ? ports.cloud.api : ports.onprem.api;
      const res = await fetch(`http://127.0.0.1:${home}/v1/bases/${doc.baseId}/documents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${carol}`, 'content-type': 'application/json' },
        body: JSON.stringify({ documentId: doc.documentId, title: doc.title, mediaType: 'text/markdown', text: doc.text }),
      });
      if (!res.ok) throw new Error(`ingesting ${doc.documentId}: ${res.status} ${await res.text()}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const cloud = `http://127.0.0.1:${ports.cloud.api}`;
  const onprem = `http://127.0.0.1:${ports.onprem.api}`;
  options.out.write(
    [
      '',
      'Perimeter federation demo is running.',
      `  cloud deployment    ${cloud}   (peer listener https://127.0.0.1:${ports.cloud.federation}, mTLS)`,
      `  on-prem deployment  ${onprem}   (peer listener https://127.0.0.1:${ports.onprem.federation}, mTLS)`,
      `  dev OIDC issuer     ${issuer.issuer}   (demo only: it signs a token for anyone who asks)`,
      `  simulated tiers     on-prem ${sims.onprem.url}, private-cloud ${sims.privateCloud.url}, public-api ${sims.publicApi.url}`,
      `  configs, certificates, records: ${options.dir}`,
      '',
      'Get a token (alice is in the staff and clinical groups):',
      `  TOKEN=$(curl -s ${issuer.issuer}/token -d '{"sub":"alice","groups":["staff","clinical"]}' | jq -r .access_token)`,
      '',
      'Search both deployments from the cloud: metadata and masked snippets only, each side applying its own permissions:',
      `  curl -s ${cloud}/v1/bases/search -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `    -d '{"query":"travel"}' | jq '.deployments, (.hits[] | {deploymentId, baseId, documentId, snippet, redacted})'`,
      '',
      'The full document is served only at home (the cloud answers 404):',
      `  curl -s ${onprem}/v1/bases/clinical-notes/documents/ward-7-handover -H "authorization: Bearer $TOKEN" | jq .text`,
      `  curl -s ${cloud}/v1/bases/clinical-notes/documents/ward-7-handover -H "authorization: Bearer $TOKEN" | jq .error`,
      '',
      'RAG chat over the on-prem handbook, generated on-prem (see x-perimeter-tier):',
      `  curl -si ${onprem}/v1/chat/completions -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `    -d '{"model":"llama-3.1-8b-instruct","perimeter":{"bases":["handbook"]},"messages":[{"role":"user","content":"What is the daily meal allowance?"}]}'`,
      'The same context may not reach a public model from the cloud (403 model_not_permitted_for_data):',
      `  curl -s ${cloud}/v1/chat/completions -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `    -d '{"model":"gpt-4.1-mini","perimeter":{"bases":["handbook"]},"messages":[{"role":"user","content":"What is the daily meal allowance?"}]}' | jq .error`,
      '',
      `One catalogue: curl -s ${cloud}/v1/models -H "authorization: Bearer $TOKEN" | jq '.data[] | {id, deployment: .perimeter.deployment}'`,
      `Peers and the applied policy bundle: curl -s ${onprem}/admin/health -H "authorization: Bearer $(curl -s ${issuer.issuer}/token -d '{"sub":"carol","groups":["kb-admins"]}' | jq -r .access_token)" | jq '{peers, bundles}'`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  return { stop };
}
