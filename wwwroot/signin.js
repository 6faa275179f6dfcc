// Signing in when config.json has `auth`: the OAuth 2.0 authorization code
// flow with PKCE, the ID token kept in sessionStorage, and a new token before
// it expires. Everything the flow reaches beyond itself is handed in (storage,
// fetch, crypto, timers, the clock, the address bar, and the hidden frame of a
// silent sign-in), so that it runs under `node --test`; the requests and
// checks themselves are oidc.js.
//
// Sign-in keeps everything in sessionStorage, never localStorage: the token
// lives as long as the tab, and no other tab or later visit reads it.
//
// Events: `signed-in` (`current`: a token at hand, from any of the ways in)
// and `redirecting` (the page is about to leave for the issuer).

import {
  authorizeUrl,
  endSessionUrl,
  fingerprint,
  idTokenOf,
  issuerAnswer,
  nearExpiry,
  newSignIn,
  renewalDue,
  tokenOf,
  tokenRequest,
  withoutAnswer,
} from './oidc.js';

export const TOKEN_KEY = 'wschat.token';
/** The sign-in in flight across the issuer's pages: state, verifier, nonce. */
export const PENDING_KEY = 'wschat.signIn';
/** Set by "Sign out", so that the page waits for "Sign in" instead of signing in again. */
export const SIGNED_OUT_KEY = 'wschat.signedOut';
/** The token a refused connection made the page fetch, so that it does so once. */
export const FRESH_KEY = 'wschat.freshToken';
/** How long a silent sign-in in a hidden frame may take. */
export const SILENT_WAIT_MS = 10000;
/**
 * A browser sees no status when an upgrade is refused. Upgrades that fail this
 * many times in a row while config.json loads fine mean the chat refuses the
 * token (a server that is down fails config.json too).
 */
export const REFUSALS_BEFORE_SIGN_IN = 2;
/** setTimeout's longest delay. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class SignIn extends EventTarget {
  /**
   * `auth`: config.json's, checked (oidc.readAuth). `store`: sessionStorage
   * (storage.js). `location` and `history`: the page's. `silent(url, state)`:
   * opens `url` in a hidden frame and resolves with the issuer's answer for
   * `state` (URLSearchParams), or null when none comes in time.
   */
  constructor({ auth, store, fetch, crypto, location, history, silent, timers = globalThis, now = Date.now }) {
    super();
    Object.assign(this, { auth, store, fetch, crypto, location, history, silent, timers, now });
    /** Whether a token is at hand (the page is not signed out). */
    this.signedIn = false;
    /** A silent sign-in in flight (a promise of a token or null). */
    this.renewal = null;
    this.renewTimer = 0;
    /** Upgrades refused in a row while config.json loaded. */
    this.refusals = 0;
    /** Whether the next token is fetched because the chat refused the last one. */
    this.freshWanted = false;
  }

  /** The token in sessionStorage, with its claims and expiry: null when there is none. */
  stored() {
    return tokenOf(this.store.get(TOKEN_KEY));
  }

  /** The page's address without the issuer's answer: where the issuer sends people back. */
  redirectUri() {
    return `${this.location.origin}${this.location.pathname}`;
  }

  /**
   * The page with sign-in on: back from the issuer, signed in already, or off
   * to sign in. Resolves with `{ connect: true }` when a token is at hand,
   * `{ problem }` when the person must press "Sign in" (with why, or ''), and
   * `{}` when the page is leaving for the issuer.
   */
  async start() {
    let problem = '';
    try {
      await this.finishRedirect();
    } catch (error) {
      problem = error.message;
    }
    const current = this.stored();
    if (current && !nearExpiry(current, this.now())) {
      this.#accept(current);
      return { connect: true };
    }
    if (problem || this.store.get(SIGNED_OUT_KEY)) return { problem };
    const renewed = current ? await this.renewSilently() : null;
    if (renewed) {
      this.#accept(renewed);
      return { connect: true };
    }
    await this.redirect();
    return {};
  }

  /** "Sign in" pressed: off to the issuer. */
  async signInAgain() {
    this.store.remove(SIGNED_OUT_KEY);
    await this.redirect();
  }

  /** Off to the issuer: it sends the browser back here with a code. */
  async redirect() {
    const attempt = await newSignIn(this.redirectUri(), this.crypto);
    attempt.fresh = Boolean(this.freshWanted);
    this.store.set(PENDING_KEY, JSON.stringify(attempt));
    this.dispatchEvent(new Event('redirecting'));
    this.location.assign(authorizeUrl(this.auth, attempt, false));
  }

  /** The code for tokens at the token endpoint; the ID token is checked and kept. */
  async redeem(code, attempt) {
    const response = await this.fetch(this.auth.tokenEndpoint, tokenRequest(this.auth, code, attempt));
    const body = await response.json().catch(() => ({}));
    const token = idTokenOf(response.ok, response.status, body, this.auth, attempt);
    this.store.set(TOKEN_KEY, token);
    if (attempt.fresh) this.store.set(FRESH_KEY, fingerprint(token));
    this.freshWanted = false;
    return this.stored();
  }

  /**
   * Back from the issuer with `?code=&state=` (or `?error=`): the state must be
   * the one this tab sent, the code is traded for tokens, and both leave the
   * address bar. Resolves with the new token, or null when the address holds no answer.
   */
  async finishRedirect() {
    const params = issuerAnswer(this.location.search);
    if (!params) return null;
    let attempt = null;
    try {
      attempt = JSON.parse(this.store.get(PENDING_KEY) || 'null');
    } catch {
      attempt = null;
    }
    this.store.remove(PENDING_KEY);
    // The code and the state leave the address bar, and the history, at once.
    const { search, hash } = this.location;
    this.history.replaceState(null, '', `${this.redirectUri()}${withoutAnswer(search)}${hash}`);
    if (!attempt || params.get('state') !== attempt.state) {
      throw new Error('The answer from the sign-in page does not belong to a sign-in this tab started.');
    }
    if (params.has('error')) {
      const why = params.get('error_description') || params.get('error');
      throw new Error(`The sign-in did not go through: ${why}.`);
    }
    return this.redeem(params.get('code'), attempt);
  }

  /**
   * Signs in again without leaving the page: the issuer in a hidden frame, with
   * `prompt=none`, answers at once when the browser has a session there. Null
   * when it cannot (no session, or an issuer that may not be framed).
   */
  renewSilently() {
    if (this.renewal) return this.renewal;
    this.renewal = (async () => {
      const attempt = await newSignIn(this.redirectUri(), this.crypto);
      attempt.fresh = Boolean(this.freshWanted);
      const answer = await this.silent(authorizeUrl(this.auth, attempt, true), attempt.state);
      if (!answer || !answer.has('code')) return null;
      try {
        return await this.redeem(answer.get('code'), attempt);
      } catch {
        return null;
      }
    })().finally(() => {
      this.renewal = null;
    });
    return this.renewal;
  }

  /**
   * A token good for the next connection: the stored one, else one signed in
   * for again, silently if the issuer can, else by going to its page (null,
   * then: the page is leaving).
   */
  async usableToken() {
    const current = this.stored();
    if (current && !nearExpiry(current, this.now())) return current;
    const renewed = await this.renewSilently();
    if (renewed) {
      this.#accept(renewed);
      return renewed;
    }
    await this.redirect();
    return null;
  }

  /**
   * An upgrade failed while config.json loaded. True when the page should
   * fetch a new token at once (the stored one is dropped): a token near
   * expiry is suspect at once, any other after a few refusals; a token fetched
   * because of refusals is never blamed again, so a chat that refuses everyone
   * does not send the page round in circles.
   */
  refused() {
    this.refusals += 1;
    const current = this.stored();
    if (current) {
      if (!nearExpiry(current, this.now()) && this.refusals < REFUSALS_BEFORE_SIGN_IN) return false;
      if (this.store.get(FRESH_KEY) === fingerprint(current.token)) return false;
      this.refusals = 0;
    }
    this.store.remove(TOKEN_KEY);
    this.freshWanted = true;
    return true;
  }

  /** A connection opened: the token was taken. */
  accepted() {
    this.refusals = 0;
  }

  /** Signs out here. Returns where to sign out at the issuer, or null when it has no end-session endpoint. */
  signOut() {
    const current = this.stored();
    for (const key of [TOKEN_KEY, PENDING_KEY, FRESH_KEY]) this.store.remove(key);
    this.store.set(SIGNED_OUT_KEY, '1');
    this.timers.clearTimeout(this.renewTimer);
    this.signedIn = false;
    return endSessionUrl(this.auth, this.redirectUri(), current ? current.token : null);
  }

  /** Signed in: a token at hand, renewed before it expires. */
  #accept(current) {
    this.signedIn = true;
    this.store.remove(SIGNED_OUT_KEY);
    this.dispatchEvent(Object.assign(new Event('signed-in'), { current }));
    this.#scheduleRenewal();
  }

  #scheduleRenewal() {
    this.timers.clearTimeout(this.renewTimer);
    const current = this.stored();
    if (!current) return;
    const due = renewalDue(current) - this.now();
    this.renewTimer = this.timers.setTimeout(() => this.#renewBeforeExpiry(), Math.min(Math.max(due, 0), MAX_DELAY_MS));
  }

  /**
   * Before the token expires: a new one, silently. The open connection needs
   * none (the chat checks tokens on connecting only), so when the issuer wants
   * the person back, the page waits for its next connection to send them.
   */
  async #renewBeforeExpiry() {
    if (!this.signedIn) return;
    const renewed = await this.renewSilently();
    if (renewed && this.signedIn) this.#accept(renewed);
  }
}
