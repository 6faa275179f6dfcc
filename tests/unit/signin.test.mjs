// wwwroot/oidc.js and signin.js: PKCE, an ID token's claims and checks, the
// answer of the issuer in the address bar, renewal before expiry with mocked
// timers, and what a refused upgrade does to the token.

import { afterEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import {
  authorizeUrl,
  claimsOf,
  codeChallenge,
  idTokenOf,
  nearExpiry,
  readAuth,
  renewMargin,
  tokenOf,
  withoutAnswer,
} from '../../wwwroot/oidc.js';
import { FRESH_KEY, PENDING_KEY, SIGNED_OUT_KEY, SignIn, TOKEN_KEY } from '../../wwwroot/signin.js';
import { MemoryStorage, jwt, memoryStore, settle } from './fakes.mjs';

afterEach(() => mock.timers.reset());

const NOW = 1_700_000_000_000;
const auth = readAuth({
  issuer: 'http://127.0.0.1:9000/issuer',
  clientId: 'wschat-dev',
  authorizationEndpoint: 'http://127.0.0.1:9000/issuer/authorize',
  tokenEndpoint: 'http://127.0.0.1:9000/issuer/token',
});
/** An ID token of the issuer, issued `iat` seconds from NOW and living `lifetime` seconds. */
const idToken = ({ lifetime = 3600, iat = 0, ...claims } = {}) =>
  jwt({ iss: auth.issuer, aud: 'wschat-dev', sub: 'local-Grace', name: 'Grace', iat: NOW / 1000 + iat, exp: NOW / 1000 + iat + lifetime, ...claims });

test('the S256 challenge of RFC 7636\'s example verifier', async () => {
  assert.equal(await codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
});

test('claims are read from a JWT\'s base64url payload, in UTF-8; what is not one gives null', () => {
  const token = jwt({ name: 'Zoë ✓ 中文', exp: 2 });
  assert.equal(claimsOf(token).name, 'Zoë ✓ 中文');
  assert.equal(claimsOf('a.b.c'), null);
  assert.equal(claimsOf(jwt({ name: 'no exp' })), null);
  assert.equal(tokenOf(null), null);
  assert.equal(tokenOf(token).expiresAt, 2000);
});

test('sign in again five minutes before expiry, or a quarter of a short lifetime before it, never under a second', () => {
  assert.equal(renewMargin(tokenOf(idToken({ lifetime: 3600 }))), 5 * 60 * 1000);
  assert.equal(renewMargin(tokenOf(idToken({ lifetime: 20 }))), 5000);
  assert.equal(renewMargin(tokenOf(idToken({ lifetime: 2 }))), 1000);
  assert.equal(renewMargin(tokenOf(jwt({ exp: NOW / 1000 + 60 }))), 5 * 60 * 1000, 'no iat: an hour is assumed');
  const current = tokenOf(idToken({ lifetime: 20 }));
  assert.equal(nearExpiry(current, NOW + 14_999), false);
  assert.equal(nearExpiry(current, NOW + 15_001), true);
});

test('the authorization request carries PKCE, the nonce and the state; `prompt=none` only when silent', () => {
  const attempt = { state: 's', challenge: 'c', nonce: 'n', redirectUri: 'http://127.0.0.1:9000/' };
  const url = new URL(authorizeUrl(auth, attempt, false));
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    response_type: 'code',
    client_id: 'wschat-dev',
    redirect_uri: 'http://127.0.0.1:9000/',
    scope: 'openid',
    state: 's',
    code_challenge: 'c',
    code_challenge_method: 'S256',
    nonce: 'n',
  });
  assert.equal(new URL(authorizeUrl(auth, attempt, true)).searchParams.get('prompt'), 'none');
});

test('an ID token is kept only from this issuer, for this client, answering this sign-in', () => {
  const attempt = { nonce: 'n1' };
  const body = (claims) => ({ id_token: idToken({ nonce: 'n1', ...claims }) });
  assert.ok(idTokenOf(true, 200, body({}), auth, attempt));
  assert.ok(idTokenOf(true, 200, body({ aud: ['other', 'wschat-dev'] }), auth, attempt));
  assert.throws(() => idTokenOf(true, 200, body({ iss: 'https://elsewhere' }), auth, attempt), /someone else/);
  assert.throws(() => idTokenOf(true, 200, body({ aud: 'other' }), auth, attempt), /someone else/);
  assert.throws(() => idTokenOf(true, 200, body({ nonce: 'n2' }), auth, attempt), /nonce/);
  assert.throws(() => idTokenOf(false, 400, { error: 'invalid_grant' }, auth, attempt), /invalid_grant/);
  assert.throws(() => idTokenOf(false, 502, {}, auth, attempt), /HTTP 502/);
});

test('the issuer\'s answer leaves the address, the rest of the query stays', () => {
  assert.equal(withoutAnswer('?code=c&state=s&room=1&iss=x&session_state=y'), '?room=1');
  assert.equal(withoutAnswer('?error=access_denied&state=s'), '');
});

/**
 * The browser's crypto, with a digest that resolves at once: WebCrypto's runs
 * on a thread of its own, which mocked timers and settle() do not wait for.
 */
const crypto = {
  getRandomValues: (bytes) => globalThis.crypto.getRandomValues(bytes),
  subtle: { digest: async (_algorithm, data) => createHash('sha256').update(data).digest() },
};

/**
 * A SignIn over fakes. `issuer.tokens` are what the token endpoint hands out,
 * in turn, each made with the nonce of the last authorization request.
 */
function signIn({ search = '', storage = new MemoryStorage(), silentAnswers = [] } = {}) {
  const issuer = { tokens: [], requests: [], silent: [] };
  const location = {
    origin: 'http://127.0.0.1:9000',
    pathname: '/',
    search,
    hash: '',
    assigned: [],
    assign(url) {
      this.assigned.push(url);
      issuer.nonce = new URL(url).searchParams.get('nonce');
    },
  };
  const history = { replaced: [], replaceState: (_state, _title, url) => history.replaced.push(url) };
  const store = memoryStore(storage);
  const flow = new SignIn({
    auth,
    store,
    location,
    history,
    crypto,
    fetch: async (url, init) => {
      issuer.requests.push(Object.fromEntries(init.body));
      return { ok: true, status: 200, json: async () => ({ id_token: issuer.tokens.shift()({ nonce: issuer.nonce }) }) };
    },
    silent: async (url, state) => {
      const params = new URL(url).searchParams;
      issuer.silent.push(params.get('prompt'));
      issuer.nonce = params.get('nonce');
      const answer = silentAnswers.shift();
      return answer ? new URLSearchParams({ code: answer, state }) : null;
    },
  });
  const signedIn = [];
  flow.addEventListener('signed-in', (event) => signedIn.push(claimsOf(event.current.token).name));
  return { flow, store, storage, location, history, issuer, signedIn };
}

test('back from the issuer: the code is traded for a token with the verifier, and code and state leave the address', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW });
  const first = signIn();
  await first.flow.redirect();
  const sent = new URL(first.location.assigned[0]).searchParams;
  const pending = JSON.parse(first.store.get(PENDING_KEY));
  assert.equal(sent.get('state'), pending.state);
  assert.equal(sent.get('code_challenge'), await codeChallenge(pending.verifier));

  const back = signIn({ search: `?code=abc&state=${pending.state}`, storage: first.storage });
  back.issuer.nonce = sent.get('nonce');
  back.issuer.tokens.push((claims) => idToken(claims));
  assert.deepEqual(await back.flow.start(), { connect: true });
  assert.deepEqual(back.issuer.requests, [
    {
      grant_type: 'authorization_code',
      code: 'abc',
      redirect_uri: 'http://127.0.0.1:9000/',
      client_id: 'wschat-dev',
      code_verifier: pending.verifier,
    },
  ]);
  assert.deepEqual(back.history.replaced, ['http://127.0.0.1:9000/']);
  assert.equal(back.store.get(PENDING_KEY), null);
  assert.ok(back.store.get(TOKEN_KEY));
  assert.deepEqual(back.signedIn, ['Grace']);
  assert.equal(back.flow.signedIn, true);
  back.flow.signOut();
});

test('an answer this tab did not ask for is refused, and the page waits for "Sign in"', async () => {
  const page = signIn({ search: '?code=abc&state=forged' });
  const outcome = await page.flow.start();
  assert.match(outcome.problem, /does not belong to a sign-in this tab started/);
  assert.deepEqual(page.issuer.requests, [], 'the code was not traded');
  assert.deepEqual(page.history.replaced, ['http://127.0.0.1:9000/']);
});

test('after "Sign out" the page does not sign in again by itself', async () => {
  const page = signIn();
  page.store.set(SIGNED_OUT_KEY, '1');
  assert.deepEqual(await page.flow.start(), { problem: '' });
  assert.deepEqual(page.location.assigned, []);
});

test('a new token before the old one expires, silently, and again before the new one expires', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW });
  const page = signIn({ silentAnswers: ['code-1', 'code-2'] });
  page.store.set(TOKEN_KEY, idToken({ lifetime: 20 }));
  page.issuer.tokens.push((claims) => idToken({ ...claims, iat: 15, lifetime: 20, name: 'Grace again' }));
  page.issuer.tokens.push((claims) => idToken({ ...claims, iat: 30, lifetime: 20, name: 'Grace third' }));
  assert.deepEqual(await page.flow.start(), { connect: true });
  assert.deepEqual(page.signedIn, ['Grace']);

  // 20 s lifetime: a quarter (5 s) before expiry.
  mock.timers.tick(14_999);
  await settle();
  assert.deepEqual(page.issuer.silent, []);
  mock.timers.tick(1);
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(page.issuer.silent, ['none']);
  assert.deepEqual(page.signedIn, ['Grace', 'Grace again']);
  assert.equal(claimsOf(page.store.get(TOKEN_KEY)).name, 'Grace again');
  assert.deepEqual(page.location.assigned, [], 'never left the page');

  // The new token (issued at 15 s, expiring at 35 s) is renewed at 30 s.
  mock.timers.tick(14_999);
  await settle();
  assert.equal(page.issuer.silent.length, 1);
  mock.timers.tick(1);
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(page.signedIn, ['Grace', 'Grace again', 'Grace third']);
  page.flow.signOut(); // its renewal timer goes with it
});

test('a token the chat refuses: blamed at once near expiry, else after two refusals, and never when it is the fresh one', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW });
  const page = signIn();
  page.store.set(TOKEN_KEY, idToken());
  assert.equal(page.flow.refused(), false);
  assert.equal(page.flow.refused(), true);
  assert.equal(page.store.get(TOKEN_KEY), null);
  assert.equal(page.flow.freshWanted, true);

  const fresh = idToken({ iat: 1 });
  page.store.set(TOKEN_KEY, fresh);
  page.store.set(FRESH_KEY, fresh.slice(-16));
  assert.equal(page.flow.refused(), false);
  assert.equal(page.flow.refused(), false, 'a chat that refuses everyone does not send the page round in circles');

  page.store.set(TOKEN_KEY, idToken({ iat: -50, lifetime: 60 }));
  page.flow.accepted();
  assert.equal(page.flow.refused(), true, 'near expiry: at once');
});

test('no token for the next connection and no silent answer: off to the issuer\'s page', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: NOW });
  const page = signIn();
  page.store.set(TOKEN_KEY, idToken({ iat: -50, lifetime: 60 }));
  assert.equal(await page.flow.usableToken(), null);
  assert.deepEqual(page.issuer.silent, ['none']);
  assert.equal(page.location.assigned.length, 1);
  assert.equal(new URL(page.location.assigned[0]).searchParams.get('prompt'), null);
});

test('signing out forgets the token and names the issuer\'s end-session page when it has one', () => {
  const page = signIn();
  const token = idToken();
  page.store.set(TOKEN_KEY, token);
  assert.equal(page.flow.signOut(), null);
  assert.equal(page.store.get(TOKEN_KEY), null);
  assert.equal(page.store.get(SIGNED_OUT_KEY), '1');
  const withEnd = new SignIn({ ...page.flow, auth: { ...auth, endSessionEndpoint: 'http://127.0.0.1:9000/issuer/logout' } });
  page.store.set(TOKEN_KEY, token);
  const url = new URL(withEnd.signOut());
  assert.equal(url.searchParams.get('id_token_hint'), token);
  assert.equal(url.searchParams.get('post_logout_redirect_uri'), 'http://127.0.0.1:9000/');
});
