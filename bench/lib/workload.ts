/**
 * The request every path is measured with: a realistic ~2 KB chat prompt (mixed
 * prose with a few entities: a person, an email address, a phone number, an internal
 * IP address and a URL), so the classifier does real work and finds something, and a
 * fixed 64-word reply, so streamed answers have a realistic number of chunks whatever
 * the prompt's length. The reply is set with the simulator's reply directive.
 */

export const BENCH_REPLY = [
  'Summary: the migration is done and queue times fell from eleven to four minutes.',
  'Two risks remain. Certificate rotation needs an owner and a date before the next audit.',
  'Inference capacity runs close to its limit during the monthly reporting window, so plan',
  'two more nodes or move batch jobs out of that window. Owners: platform team for both,',
  'with a review in two weeks.',
].join(' ');

const PROSE = [
  'Please summarise the quarterly infrastructure review for the leadership update and keep it to one short paragraph.',
  'During the quarter the platform team migrated the build farm to the new cluster, reduced the median queue time',
  'from eleven minutes to four, and retired two legacy services that had been running on end-of-life hardware.',
  'The review was led by Priya Raman, who can be reached at priya.raman@northwind-labs.io or on +44 20 7946 0958',
  'for questions about the figures. The monitoring dashboards live at https://wiki.northwind-labs.io/infra/q3-review',
  'and the build coordinator answers on 10.42.7.19 inside the office network. Open risks are the certificate rotation',
  'schedule, which still depends on a manual step that only two people know, and the capacity plan for the inference',
  'nodes, which run close to their limit during the monthly reporting window when finance and sales both run large',
  'batch jobs. The team also noted that the staging environment drifted from production twice this quarter, each time',
  'because a configuration change was applied by hand and not through the pipeline; both were caught before release.',
  'Costs were flat against the previous quarter despite the extra build capacity, mainly because the retired services',
  'freed two racks. Hiring is on track: one site reliability engineer joined in August and a second starts next month.',
  'Recommend next steps and owners for each risk, say which of them should be escalated, and suggest a date for the',
  'follow-up review. Do not repeat the figures unless they matter for a decision, and write for readers who did not',
  'attend the review and have no time to read the full minutes.',
].join(' ');

/** ~2 KB of user content (the prompt, plus the directive that fixes the reply). */
export function benchPrompt(nonce?: string): string {
  const ref = nonce === undefined ? '' : ` Reference ${nonce}.`;
  return `${PROSE}${ref} [[sim:reply=${BENCH_REPLY}]]`;
}

export function benchBody(stream: boolean, nonce?: string): string {
  return JSON.stringify({
    model: 'bench-model',
    stream,
    messages: [
      { role: 'system', content: 'You are a concise assistant for an infrastructure team.' },
      { role: 'user', content: benchPrompt(nonce) },
    ],
  });
}
