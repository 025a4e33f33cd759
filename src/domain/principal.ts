/**
 * Who is calling. Until identity lands every request is anonymous; API keys and
 * OIDC tokens will fill the same shape, so policy code never changes.
 */
export interface Principal {
  /** Key id or token subject; 'anonymous' when the caller is not identified. */
  readonly id: string;
  readonly kind: 'anonymous' | 'api_key' | 'jwt';
  readonly team: string | undefined;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  /** A workload the credential is bound to, if any; it wins over a header. */
  readonly workload: string | undefined;
  /** ABAC attributes such as clearance, department, region. */
  readonly attributes: Readonly<Record<string, string>>;
}

export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  kind: 'anonymous',
  team: undefined,
  roles: Object.freeze([]),
  groups: Object.freeze([]),
  workload: undefined,
  attributes: Object.freeze({}),
});
