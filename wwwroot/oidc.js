// OpenID Connect for the page, without I/O: config.json's `auth`, the
// authorization code flow's requests with PKCE (RFC 6749 4.1, RFC 7636),
// the issuer's answer, and an ID token's claims and expiry. The flow itself,
// with storage, fetch and timers, is signin.js.

/** Sign in again this long before the token expires (at most; a quarter of a short lifetime). */
export const RENEW_BEFORE_MS = 5 * 60 * 1000;
/** The lifetime assumed for a token without `iat`. */
const DEFAULT_LIFETIME_MS = 3600000;
/** What the issuer adds to the page's address when it sends the browser back. */
const ANSWER_KEYS = ['code', 'state', 'error', 'error_description', 'error_uri', 'iss', 'session_state'];

/** config.json's `auth`, checked: null when there is none. */
export function readAuth(auth) {
  if (auth === undefined || auth === null) return null;
  for (const key of ['issuer', 'clientId', 'authorizationEndpoint', 'tokenEndpoint']) {
    if (typeof auth[key] !== 'string' || !auth[key]) throw new Error(`config.json: auth has no ${key}`);
  }
  for (const key of ['authorizationEndpoint', 'tokenEndpoint', 'endSessionEndpoint']) {
    if (typeof auth[key] === 'string' && !URL.canParse(auth[key])) {
      throw new Error(`config.json: auth.${key} is not a URL`);
    }
  }
  return {
    issuer: auth.issuer,
    clientId: auth.clientId,
    authorizationEndpoint: auth.authorizationEndpoint,
    tokenEndpoint: auth.tokenEndpoint,
    endSessionEndpoint: typeof auth.endSessionEndpoint === 'string' ? auth.endSessionEndpoint : null,
    scope: typeof auth.scope === 'string' && auth.scope ? auth.scope : 'openid',
  };
}

export function base64url(bytes) {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes from a cryptographic generator, base64url: 43 characters for 32. */
export function randomString(bytes, crypto = globalThis.crypto) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** RFC 7636 4.2: the S256 code challenge of a verifier. */
export async function codeChallenge(verifier, crypto = globalThis.crypto) {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** The claims of a JWT, unchecked (the chat checks the signature): null when it is not one. */
export function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return claims !== null && typeof claims === 'object' && typeof claims.exp === 'number' ? claims : null;
  } catch {
    return null;
  }
}

/** A token with its claims and expiry (ms): null when it is not a JWT with `exp`. */
export function tokenOf(token) {
  const claims = token ? claimsOf(token) : null;
  if (!claims) return null;
  return { token, claims, expiresAt: claims.exp * 1000 };
}

/** How long before expiry to sign in again: five minutes, or a quarter of a short lifetime. */
export function renewMargin(current) {
  const { iat, exp } = current.claims;
  const lifetime = typeof iat === 'number' ? (exp - iat) * 1000 : DEFAULT_LIFETIME_MS;
  return Math.max(1000, Math.min(RENEW_BEFORE_MS, lifetime / 4));
}

/** Whether it is time to sign in again. */
export function nearExpiry(current, now) {
  return current.expiresAt - now < renewMargin(current);
}

/** When to sign in again: the renewal margin before expiry. */
export function renewalDue(current) {
  return current.expiresAt - renewMargin(current);
}

/** A short mark of a token, to know it again. */
export function fingerprint(token) {
  return token.slice(-16);
}

/** A new sign-in: its state, PKCE verifier and challenge, and nonce. */
export async function newSignIn(redirectUri, crypto = globalThis.crypto) {
  const verifier = randomString(32, crypto);
  return {
    state: randomString(16, crypto),
    verifier,
    challenge: await codeChallenge(verifier, crypto),
    nonce: randomString(16, crypto),
    redirectUri,
  };
}

/** The issuer's authorization URL for a sign-in; `silent` asks it to show no page (`prompt=none`). */
export function authorizeUrl(auth, attempt, silent) {
  const url = new URL(auth.authorizationEndpoint);
  const params = {
    response_type: 'code',
    client_id: auth.clientId,
    redirect_uri: attempt.redirectUri,
    scope: auth.scope,
    state: attempt.state,
    code_challenge: attempt.challenge,
    code_challenge_method: 'S256',
    nonce: attempt.nonce,
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  if (silent) url.searchParams.set('prompt', 'none');
  return url.href;
}

/** The token request that trades a code for tokens (RFC 6749 4.1.3, with the PKCE verifier). */
export function tokenRequest(auth, code, attempt) {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: attempt.redirectUri,
      client_id: auth.clientId,
      code_verifier: attempt.verifier,
    }),
    cache: 'no-store',
    credentials: 'omit',
  };
}

/**
 * The ID token of the token endpoint's answer (`ok`: its HTTP status was a
 * success), checked against the issuer, the client and this sign-in's nonce.
 * Throws with the reason when it is not one to keep.
 */
export function idTokenOf(ok, status, body, auth, attempt) {
  if (!ok || typeof body.id_token !== 'string') {
    throw new Error(`the issuer did not give a token for the code (${body.error || `HTTP ${status}`})`);
  }
  const claims = claimsOf(body.id_token);
  const audiences = claims ? [].concat(claims.aud) : [];
  if (!claims || claims.iss !== auth.issuer || !audiences.includes(auth.clientId)) {
    throw new Error('the issuer gave a token for someone else');
  }
  if (claims.nonce !== attempt.nonce) throw new Error('the token does not answer this sign-in (nonce)');
  return body.id_token;
}

/** The issuer's answer in a query string (`?code=&state=` or `?error=&state=`): null when it holds none. */
export function issuerAnswer(search) {
  const params = new URLSearchParams(search);
  return params.has('state') && (params.has('code') || params.has('error')) ? params : null;
}

/** A query string without the issuer's answer: `?rest`, or '' when nothing is left. */
export function withoutAnswer(search) {
  const rest = new URLSearchParams(search);
  for (const key of ANSWER_KEYS) rest.delete(key);
  const query = rest.toString();
  return query ? `?${query}` : '';
}

/** Signing out at the issuer (RP-Initiated Logout 1.0): null when it has no end-session endpoint. */
export function endSessionUrl(auth, redirectUri, token) {
  if (!auth.endSessionEndpoint) return null;
  const url = new URL(auth.endSessionEndpoint);
  url.searchParams.set('client_id', auth.clientId);
  url.searchParams.set('post_logout_redirect_uri', redirectUri);
  if (token) url.searchParams.set('id_token_hint', token);
  return url.href;
}
