export interface AccessToken {
  value: string;
  /** Lower-cased, as the IdP's token_type is case-insensitive. */
  tokenType: string;
  obtainedAt: number;
  expiresAt: number;
  scope?: string;
}

/** Why a fetch happens, for sources that relay it elsewhere (a worker asking the primary process). */
export interface FetchContext {
  /** The token held now and still valid: this fetch renews it ahead of its expiry. */
  renewing?: AccessToken | undefined;
  /** The token an upstream refused (401), dropped just before this fetch. */
  rejected?: AccessToken | undefined;
}

/** One way of obtaining tokens (one grant, one IdP). Failures are ProxyErrors with a token code. */
export interface TokenSource {
  readonly name: string;
  fetchToken(context?: FetchContext): Promise<AccessToken>;
}
