export interface AccessToken {
  value: string;
  /** Lower-cased, as the IdP's token_type is case-insensitive. */
  tokenType: string;
  obtainedAt: number;
  expiresAt: number;
  scope?: string;
}

/** One way of obtaining tokens (one grant, one IdP). Failures are ProxyErrors with a token code. */
export interface TokenSource {
  readonly name: string;
  fetchToken(): Promise<AccessToken>;
}
