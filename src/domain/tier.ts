/** Deployment tiers, ordered from most to least trusted with data. */
export const TIERS = ['on-prem', 'private-cloud', 'public-api'] as const;
export type Tier = (typeof TIERS)[number];

export const CAPABILITIES = ['basic', 'mid', 'frontier'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const PROTOCOLS = ['openai', 'azure-openai', 'anthropic'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
