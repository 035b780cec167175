// End-to-end test of the coeur OpenID Connect provider, driven by panva's
// openid-client (the relying party side) and by plain fetch (the browser side).
//
// Configuration comes from the environment (see tests/node/run.sh, which
// starts a server and sets all of these):
//   COEUR_ISSUER                    e.g. http://127.0.0.1:8080/auth/realms/edit
//   COEUR_CLIENT_ID                 client registered with the provider
//   COEUR_CLIENT_SECRET             its secret (sent as openid-client's default,
//                                   client_secret_post)
//   COEUR_REDIRECT_URI              one of its registered redirect URIs
//   COEUR_POST_LOGOUT_REDIRECT_URI  one of its registered post-logout URIs
//   COEUR_NATIONAL_ID               test identity to log in as (default 899700218896)
//
// Run: node --test tests/node/flow.test.mjs

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} must be set (see tests/node/run.sh)`);
  }
  return value;
}

const ISSUER = requiredEnv('COEUR_ISSUER');
const CLIENT_ID = requiredEnv('COEUR_CLIENT_ID');
const CLIENT_SECRET = requiredEnv('COEUR_CLIENT_SECRET');
const REDIRECT_URI = requiredEnv('COEUR_REDIRECT_URI');
const POST_LOGOUT_REDIRECT_URI = requiredEnv('COEUR_POST_LOGOUT_REDIRECT_URI');
const NATIONAL_ID = process.env.COEUR_NATIONAL_ID || '899700218896';

const SCOPE = 'openid scope_all offline_access';
const ACR_ORDER = ['eidas1', 'eidas2', 'eidas3'];
// "code^OID", e.g. "10^1.2.250.1.213.1.1.5.5"
const ROLE_RE = /^[^\s^]+\^[0-9]+(?:\.[0-9]+)+$/;

// ---------------------------------------------------------------------------
// A minimal browser: fetch + a cookie jar + HTML form scraping.
// ---------------------------------------------------------------------------

/** Cookie jar keeping name=value pairs; one host, so Domain/Path are ignored. */
class CookieJar {
  #cookies = new Map();

  /** Records the Set-Cookie headers of a response. */
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expired = false;
      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const attrName = key.trim().toLowerCase();
        const attrValue = rest.join('=').trim();
        if (attrName === 'max-age' && Number(attrValue) <= 0) expired = true;
        if (attrName === 'expires') {
          const when = Date.parse(attrValue);
          if (Number.isFinite(when) && when <= Date.now()) expired = true;
        }
      }
      if (expired) {
        this.#cookies.delete(name);
      } else {
        this.#cookies.set(name, value);
      }
    }
  }

  /** Value for the Cookie request header, or undefined when the jar is empty. */
  header() {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  names() {
    return [...this.#cookies.keys()];
  }
}

const issuerOrigin = new URL(ISSUER).origin;

async function discard(response) {
  if (!response.bodyUsed) await response.body?.cancel();
}

/**
 * One HTTP exchange as a browser would do it, without following redirects:
 * sends the jar's cookies and stores the ones set by the response.
 */
async function browserRequest(jar, url, { method = 'GET', form } = {}) {
  const headers = { accept: 'text/html,application/xhtml+xml' };
  const cookie = jar.header();
  if (cookie) headers.cookie = cookie;
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers.origin = issuerOrigin;
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, { method, headers, body, redirect: 'manual' });
  jar.store(response);
  return response;
}

/**
 * Sends a request and, like a browser, follows redirects that stay on the
 * provider's origin (with GET). Stops at the first response that is not a
 * redirect or whose redirect leaves the provider (e.g. to the client's
 * redirect_uri), and returns it with its absolute Location if any.
 */
async function browse(jar, url, options = {}) {
  let current = new URL(url);
  let response = await browserRequest(jar, current, options);
  for (let hops = 0; hops < 10; hops++) {
    if (![301, 302, 303, 307, 308].includes(response.status)) {
      return { response, url: current, location: undefined };
    }
    const raw = response.headers.get('location');
    assert.ok(raw, `redirect ${response.status} from ${current} has no Location header`);
    const location = new URL(raw, current);
    await discard(response);
    if (location.origin !== issuerOrigin) {
      return { response, url: current, location };
    }
    current = location;
    response = await browserRequest(jar, current);
  }
  assert.fail(`too many redirects inside the provider, last at ${current}`);
}

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const e = entity.toLowerCase();
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    return String.fromCodePoint(parseInt(e.slice(1), 10));
  });
}

/** Parses the attributes of an HTML start tag, e.g. `<input type="hidden" ...>`. */
function parseAttributes(tag) {
  const attributes = {};
  const inner = tag.replace(/^<\s*[a-z0-9]+/i, '').replace(/\/?\s*>$/, '');
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of inner.matchAll(re)) {
    const value = m[2] ?? m[3] ?? m[4] ?? '';
    attributes[m[1].toLowerCase()] = decodeEntities(value);
  }
  return attributes;
}

function startTags(html, name) {
  const re = new RegExp(`<${name}\\b(?:[^>"']|"[^"]*"|'[^']*')*>`, 'gi');
  return [...html.matchAll(re)].map((m) => ({ tag: m[0], index: m.index, attributes: parseAttributes(m[0]) }));
}

/**
 * Extracts the single POST form of the wallet login page: its absolute
 * action, hidden inputs, text inputs and submit buttons.
 */
function parseLoginForm(html, pageUrl) {
  const forms = startTags(html, 'form').filter((f) => (f.attributes.method ?? 'get').toLowerCase() === 'post');
  assert.equal(forms.length, 1, `expected exactly one <form method="post"> on the login page, found ${forms.length}`);
  const form = forms[0];
  const end = html.toLowerCase().indexOf('</form>', form.index);
  assert.ok(end > form.index, 'login <form> is not closed');
  const body = html.slice(form.index + form.tag.length, end);

  const action = new URL(form.attributes.action || pageUrl.href, pageUrl);
  const hidden = [];
  const textInputs = [];
  for (const input of startTags(body, 'input')) {
    const type = (input.attributes.type ?? 'text').toLowerCase();
    if (type === 'hidden') {
      assert.ok(input.attributes.name, `hidden input without a name: ${input.tag}`);
      hidden.push([input.attributes.name, input.attributes.value ?? '']);
    } else if (type === 'text') {
      textInputs.push(input.attributes.name);
    }
  }
  const buttons = startTags(body, 'button')
    .filter((b) => (b.attributes.type ?? 'submit').toLowerCase() === 'submit')
    .map((b) => ({ name: b.attributes.name, value: b.attributes.value }));
  return { action, hidden, textInputs, buttons };
}

/**
 * Logs in through the wallet page: GET the authorization URL (unless the
 * page was already fetched), expect the HTML login page, submit it with the
 * test method, and return the final redirect out of the provider.
 */
async function walletLogin(jar, authorizationUrl, page) {
  page ??= await browse(jar, authorizationUrl);
  assert.equal(page.response.status, 200,
    `authorization request should show the login page, got ${page.response.status}` +
      (page.location ? ` to ${page.location}` : ''));
  assert.match(page.response.headers.get('content-type') ?? '', /^text\/html/i);
  const html = await page.response.text();

  const form = parseLoginForm(html, page.url);
  assert.equal(form.action.origin, issuerOrigin, `form action ${form.action} leaves the provider`);
  assert.ok(form.textInputs.includes('national_id'), 'login form has no text input named national_id');
  assert.ok(
    form.buttons.some((b) => b.name === 'method' && b.value === 'test'),
    `login form has no <button name="method" value="test">; buttons: ${JSON.stringify(form.buttons)}`,
  );

  const fields = [...form.hidden, ['national_id', NATIONAL_ID], ['method', 'test']];
  const first = await browserRequest(jar, form.action, { method: 'POST', form: fields });
  if (![302, 303].includes(first.status)) {
    const text = await first.text().catch(() => '');
    assert.fail(`login POST should redirect with 302 or 303, got ${first.status}: ${text.slice(0, 500)}`);
  }
  await discard(first);
  const location = new URL(first.headers.get('location'), form.action);
  if (location.origin === issuerOrigin) {
    // An intermediate step inside the provider: keep browsing to the exit.
    const next = await browse(jar, location);
    assert.ok(next.location, `login did not redirect out of the provider (status ${next.response.status})`);
    return next.location;
  }
  return location;
}

function assertRedirectsTo(location, base) {
  assert.ok(location, 'expected a redirect');
  assert.ok(location.href.startsWith(base),
    `expected a redirect to ${base}, got ${location.href}`);
  const expected = new URL(base);
  assert.equal(location.origin + location.pathname, expected.origin + expected.pathname);
}

/** at_hash per OpenID Connect Core 3.1.3.6 for the JWS alg of the ID token. */
function expectedAtHash(alg, accessToken) {
  const hash = {
    RS256: 'sha256', PS256: 'sha256', ES256: 'sha256', HS256: 'sha256',
    RS384: 'sha384', PS384: 'sha384', ES384: 'sha384', HS384: 'sha384',
    RS512: 'sha512', PS512: 'sha512', ES512: 'sha512', HS512: 'sha512',
    EdDSA: 'sha512', Ed25519: 'sha512',
  }[alg];
  if (!hash) return undefined;
  const digest = createHash(hash).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

async function assertInvalidGrant(promise, what) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof client.ResponseBodyError,
      `${what}: expected ResponseBodyError, got ${err?.name}: ${err?.message}`);
    assert.equal(err.error, 'invalid_grant', `${what}: expected invalid_grant`);
    return true;
  }, `${what} must be rejected`);
}

// ---------------------------------------------------------------------------
// The flow. Steps share state and run in order; once one fails the rest are
// skipped, so that the first failure is the one reported.
// ---------------------------------------------------------------------------

describe('coeur OpenID Connect provider, driven by openid-client', { timeout: 180_000 }, () => {
  const jar = new CookieJar();
  const state = {};
  let broken = false;

  function step(name, fn) {
    it(name, async (t) => {
      if (broken) {
        t.skip('an earlier step failed');
        return;
      }
      try {
        await fn(t);
      } catch (err) {
        broken = true;
        throw err;
      }
    });
  }

  step('1. discovery', async () => {
    const config = await client.discovery(
      new URL(ISSUER),
      CLIENT_ID,
      CLIENT_SECRET,
      // openid-client's default: client_secret_post when a secret is given, against a client
      // registered with coeur's default (client_secret_basic), as relying parties do out of
      // the box.
      undefined,
      // Plain http on loopback; also verify JWT signatures against jwks_uri.
      { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
    );
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, ISSUER);
    for (const endpoint of [
      'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
      'end_session_endpoint', 'introspection_endpoint', 'revocation_endpoint',
    ]) {
      assert.equal(typeof metadata[endpoint], 'string', `metadata lacks ${endpoint}`);
      assert.equal(new URL(metadata[endpoint]).origin, issuerOrigin, `${endpoint} is not on the issuer's origin`);
    }
    assert.ok(metadata.supportsPKCE('S256'), 'code_challenge_methods_supported must include S256');
    assert.equal(metadata.authorization_response_iss_parameter_supported, true,
      'authorization_response_iss_parameter_supported must be true');
    state.config = config;

    const standard = await fetch(`${ISSUER}/.well-known/openid-configuration`);
    assert.equal(standard.status, 200);
    const wallet = await fetch(`${ISSUER}/.well-known/wallet-openid-configuration`);
    assert.equal(wallet.status, 200, 'wallet-openid-configuration should answer 200');
    assert.match(wallet.headers.get('content-type') ?? '', /^application\/json/i);
    assert.deepEqual(await wallet.json(), await standard.json());
  });

  step('2. authorization URL with PKCE S256, state, nonce and acr_values', async () => {
    const codeVerifier = client.randomPKCECodeVerifier();
    const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
    const authState = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(state.config, {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state: authState,
      nonce,
      acr_values: 'eidas1',
    });
    assert.equal(url.origin + url.pathname, state.config.serverMetadata().authorization_endpoint);
    assert.equal(url.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(url.searchParams.get('code_challenge'), codeChallenge);
    Object.assign(state, { codeVerifier, authState, nonce, authorizationUrl: url });
  });

  step('3. wallet login page, form submission and redirect with code', async () => {
    const location = await walletLogin(jar, state.authorizationUrl);
    assertRedirectsTo(location, REDIRECT_URI);
    const params = location.searchParams;
    assert.equal(params.get('error'), null, `authorization error: ${params.get('error')} ${params.get('error_description') ?? ''}`);
    assert.ok(params.get('code'), 'redirect lacks code');
    assert.equal(params.get('state'), state.authState);
    assert.equal(params.get('iss'), ISSUER);
    assert.ok(jar.names().length > 0, 'login established no session cookie');
    state.callbackUrl = location;
  });

  step('4. authorization code grant and ID token claims', async () => {
    const tokens = await client.authorizationCodeGrant(state.config, state.callbackUrl, {
      pkceCodeVerifier: state.codeVerifier,
      expectedState: state.authState,
      expectedNonce: state.nonce,
      idTokenExpected: true,
    });
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(tokens.token_type, 'bearer');
    assert.ok(tokens.expires_in > 0, 'expires_in must be positive');
    assert.equal(typeof tokens.refresh_token, 'string', 'refresh_token expected (offline_access)');
    assert.ok(tokens.refresh_token.length > 0);

    const claims = tokens.claims();
    assert.ok(claims, 'ID token expected');
    assert.equal(claims.iss, ISSUER);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    assert.ok(aud.includes(CLIENT_ID), `aud ${JSON.stringify(claims.aud)} lacks ${CLIENT_ID}`);
    assert.equal(typeof claims.sub, 'string');
    assert.ok(claims.sub.length > 0);
    assert.equal(claims.nonce, state.nonce);
    assert.ok(ACR_ORDER.includes(claims.acr), `acr ${claims.acr} is not eidas1 or higher`);
    assert.ok(claims.authMode !== undefined && claims.authMode !== null && claims.authMode !== '',
      'authMode claim missing');
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(claims.auth_time <= Math.ceil(Date.now() / 1000) + 5, 'auth_time is in the future');
    assert.equal(typeof claims.at_hash, 'string', 'at_hash claim missing');
    const atHash = expectedAtHash(jwtHeader(tokens.id_token).alg, tokens.access_token);
    if (atHash) assert.equal(claims.at_hash, atHash, 'at_hash does not match the access token');
    assert.equal(typeof claims.sid, 'string', 'sid claim missing');
    assert.ok(claims.sid.length > 0);

    state.tokens = tokens;
    state.sub = claims.sub;
  });

  step('5. UserInfo in the Pro Santé Connect shape', async () => {
    const info = await client.fetchUserInfo(state.config, state.tokens.access_token, state.sub);
    assert.equal(info.sub, state.sub);
    assert.equal(info.SubjectNameID, NATIONAL_ID);

    assert.ok(info.SubjectRefPro && typeof info.SubjectRefPro === 'object', 'SubjectRefPro missing');
    const exercices = info.SubjectRefPro.exercices;
    assert.ok(Array.isArray(exercices) && exercices.length > 0, 'SubjectRefPro.exercices must be a non-empty array');
    assert.ok(Array.isArray(exercices[0].activities), 'first exercice must have an activities array');

    assert.ok(Array.isArray(info.SubjectRole), 'SubjectRole must be an array');
    for (const role of info.SubjectRole) {
      assert.equal(typeof role, 'string');
      assert.match(role, ROLE_RE, `SubjectRole entry ${role} is not of the form code^OID`);
    }
    assert.equal(typeof info.given_name, 'string');
    assert.equal(typeof info.family_name, 'string');
  });

  step('6. refresh token rotation and reuse detection', async () => {
    const old = state.tokens;
    const refreshed = await client.refreshTokenGrant(state.config, old.refresh_token);
    assert.equal(typeof refreshed.access_token, 'string');
    assert.equal(typeof refreshed.refresh_token, 'string', 'refresh must rotate the refresh token');
    assert.notEqual(refreshed.access_token, old.access_token);
    assert.notEqual(refreshed.refresh_token, old.refresh_token);
    const refreshedClaims = refreshed.claims();
    if (refreshedClaims) {
      assert.equal(refreshedClaims.sub, state.sub);
      assert.equal(refreshedClaims.iss, ISSUER);
    }

    await sleep(3000);
    await assertInvalidGrant(client.refreshTokenGrant(state.config, old.refresh_token),
      'reuse of a rotated refresh token');
    await assertInvalidGrant(client.refreshTokenGrant(state.config, refreshed.refresh_token),
      'refresh token of a family revoked on reuse');
  });

  step('7. introspection and revocation', async () => {
    // A fresh, independent grant: the tokens of step 4 belong to a family
    // that step 6 revoked. The browser still has its session, so the
    // provider may either show the login page again or answer at once.
    const codeVerifier = client.randomPKCECodeVerifier();
    const authState = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(state.config, {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: authState,
      nonce,
      acr_values: 'eidas1',
    });
    const first = await browse(jar, url);
    const location = first.location ?? (await walletLogin(jar, url, first));
    assertRedirectsTo(location, REDIRECT_URI);
    const tokens = await client.authorizationCodeGrant(state.config, location, {
      pkceCodeVerifier: codeVerifier,
      expectedState: authState,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    assert.equal(tokens.claims().sub, state.sub);
    state.latestIdToken = tokens.id_token;

    const active = await client.tokenIntrospection(state.config, tokens.access_token);
    assert.equal(active.active, true, `introspection: ${JSON.stringify(active)}`);
    if (active.client_id !== undefined) assert.equal(active.client_id, CLIENT_ID);
    if (active.sub !== undefined) assert.equal(active.sub, state.sub);
    if (active.exp !== undefined) assert.ok(active.exp > Date.now() / 1000);

    await client.tokenRevocation(state.config, tokens.access_token);

    const inactive = await client.tokenIntrospection(state.config, tokens.access_token);
    assert.equal(inactive.active, false, `introspection after revocation: ${JSON.stringify(inactive)}`);
    await assert.rejects(client.fetchUserInfo(state.config, tokens.access_token, state.sub),
      'UserInfo must refuse a revoked access token');
  });

  step('8. RP-initiated logout, then prompt=none needs a login', async () => {
    const endSession = client.buildEndSessionUrl(state.config, {
      id_token_hint: state.latestIdToken,
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
      state: 'bye',
    });
    const logout = await browse(jar, endSession);
    assert.ok([302, 303].includes(logout.response.status),
      `logout should redirect with 302 or 303, got ${logout.response.status}`);
    assertRedirectsTo(logout.location, POST_LOGOUT_REDIRECT_URI);
    assert.equal(logout.location.searchParams.get('state'), 'bye');

    const authState = client.randomState();
    const codeVerifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(state.config, {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: authState,
      nonce: client.randomNonce(),
      acr_values: 'eidas1',
      prompt: 'none',
    });
    const silent = await browse(jar, url);
    assert.ok([302, 303].includes(silent.response.status),
      `prompt=none after logout should redirect with 302 or 303, got ${silent.response.status}`);
    assertRedirectsTo(silent.location, REDIRECT_URI);
    assert.equal(silent.location.searchParams.get('error'), 'login_required');
    assert.equal(silent.location.searchParams.get('state'), authState);
    assert.equal(silent.location.searchParams.get('code'), null);

    // openid-client checks iss and state on error responses too.
    await assert.rejects(
      client.authorizationCodeGrant(state.config, silent.location, {
        pkceCodeVerifier: codeVerifier,
        expectedState: authState,
      }),
      (err) => {
        assert.ok(err instanceof client.AuthorizationResponseError,
          `expected AuthorizationResponseError, got ${err?.name}: ${err?.message}`);
        assert.equal(err.error, 'login_required');
        return true;
      },
    );
  });

  step('9. client credentials grant', async () => {
    const tokens = await client.clientCredentialsGrant(state.config);
    assert.equal(typeof tokens.access_token, 'string');
    assert.ok(tokens.access_token.length > 0);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(typeof tokens.expires_in, 'number');
    assert.ok(tokens.expires_in > 0);
  });
});
