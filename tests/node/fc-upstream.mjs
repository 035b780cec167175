// A FranceConnect stand-in for coeur's tests (tests/it/franceconnect): panva's oidc-provider
// set up like FranceConnect+ (`--kind plus`: ES256 signatures, ID token and userinfo
// encrypted to the relying party's JWKS with ECDH-ES + A256GCM, eidas2/eidas3) or like
// FranceConnect v2 (`--kind v2`: signed only, eidas1), with the pivot-identity claims and
// test citizens (one born abroad, one with a partial birth date), or like FranceConnect v1
// (`--kind v1`: ID tokens signed HS256 with the client secret, endpoints under `/api/v1/`,
// no discovery document: coeur is given the endpoints).
//
// Protocol with the test: the script listens on a free loopback port and prints
// `{"issuer": …}` on one line; the test then writes one JSON line with coeur's side
// (`redirect_uri`, `post_logout_redirect_uri`, `jwks_uri`, `client_id`, `client_secret`,
// `decryption_key_pem` (the test's own key, to forge tokens), `accounts` (more citizens)),
// and the provider answers from then on (503 before). `POST /__test/tamper` with a mode
// (`nonce`, `issuer`, `foreign`, `plain`, `expired`, `acr`) spoils the next token response,
// the way a hostile or broken upstream would (v1 also: `es256`, an asymmetric signature,
// and `none`, an unsigned token; v2 also: `confused`, HS256 with the upstream's public key as
// the MAC secret, the algorithm-confusion attack); `rotated` signs it with a new key, which the
// upstream's JWKS publishes from then on (a key rotation).
//
// The login page (`/interaction/{uid}`) asks for a login and the password `123`; "Annuler"
// answers `access_denied`.

import http from 'node:http';
import { createInterface } from 'node:readline';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const kind = process.argv.includes('--kind') ? process.argv[process.argv.indexOf('--kind') + 1] : 'plus';
const plus = kind === 'plus';
const v1 = kind === 'v1';

const citizens = {
  angela: {
    sub: 'b6048e95bb134ec5b1d1e1fa69f287172e91722b9354d637a1bcf2ebb0fd2ef5v1',
    given_name: 'Angela Claire Louise', family_name: 'DUBOIS', preferred_username: '',
    gender: 'female', birthdate: '1962-08-24', birthplace: '75107', birthcountry: '99100',
    email: 'wossewodda-3728@yopmail.com',
  },
  abroad: {
    sub: '7a8f3c4e5d6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3v1',
    given_name: 'Kenji', family_name: 'TANAKA', preferred_username: '',
    gender: 'male', birthdate: '1979-03-14', birthplace: '', birthcountry: '99217',
    email: 'kenji.tanaka@example.org',
  },
  partial: {
    sub: '0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2v1',
    given_name: 'Paul', family_name: 'MARTIN', preferred_username: 'LEGRAND',
    gender: 'male', birthdate: plus ? '1992-01-01' : '1992-11-00', birthplace: '2A004', birthcountry: '99100',
    email: 'paul.martin@example.org',
  },
};

const defaultAcr = plus ? 'eidas2' : 'eidas1';
let tamper = null;
let handler = (req, res) => { res.statusCode = 503; res.end('not configured yet'); };

const server = http.createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(JSON.stringify({ issuer: `http://127.0.0.1:${port}` }) + '\n');
});

const rl = createInterface({ input: process.stdin });
rl.once('line', async (line) => {
  try {
    await configure(JSON.parse(line), `http://127.0.0.1:${server.address().port}`);
    process.stdout.write('{"ready": true}\n');
  } catch (e) {
    process.stderr.write(`fc-upstream: ${e.stack}\n`);
    process.exit(1);
  }
});
rl.on('close', () => process.exit(0));

function readBody(req) {
  return new Promise((resolve, reject) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => resolve(new URLSearchParams(b)));
    req.on('error', reject);
  });
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function configure(cfg, issuer) {
  Object.assign(citizens, cfg.accounts || {});
  const signing = await jose.generateKeyPair('ES256', { extractable: true });
  const signingJwk = { ...(await jose.exportJWK(signing.privateKey)), kid: `fc-${kind}-1`, alg: 'ES256', use: 'sig' };
  const forger = await jose.generateKeyPair('ES256');
  const published = [{ ...(await jose.exportJWK(signing.publicKey)), kid: signingJwk.kid, alg: 'ES256', use: 'sig' }];
  const coeurKey = cfg.decryption_key_pem ? await jose.importPKCS8(cfg.decryption_key_pem, 'ECDH-ES') : null;

  const client = {
    client_id: cfg.client_id,
    client_secret: cfg.client_secret,
    redirect_uris: [cfg.redirect_uri],
    post_logout_redirect_uris: [cfg.post_logout_redirect_uri],
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: v1 ? 'HS256' : 'ES256',
  };
  if (plus) {
    Object.assign(client, {
      jwks_uri: cfg.jwks_uri,
      userinfo_signed_response_alg: 'ES256',
      id_token_encrypted_response_alg: 'ECDH-ES',
      id_token_encrypted_response_enc: 'A256GCM',
      userinfo_encrypted_response_alg: 'ECDH-ES',
      userinfo_encrypted_response_enc: 'A256GCM',
    });
  }
  const pivot = ['given_name', 'family_name', 'birthdate', 'birthplace', 'birthcountry', 'gender', 'preferred_username', 'email'];
  const claims = { openid: ['sub'] };
  for (const c of pivot) claims[c] = [c];
  const provider = new Provider(issuer, {
    clients: [client],
    jwks: { keys: [signingJwk] },
    acrValues: ['eidas1', 'eidas2', 'eidas3'],
    claims,
    scopes: ['openid', ...pivot],
    cookies: { keys: ['fc-upstream-test-cookie-key'] },
    // coeur is on loopback: no protection against fetching special-use addresses here.
    fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined }),
    pkce: { required: () => true },
    routes: v1
      ? { authorization: '/api/v1/authorize', token: '/api/v1/token', userinfo: '/api/v1/userinfo', jwks: '/jwks', end_session: '/api/v1/logout' }
      : { authorization: '/authorize', token: '/token', userinfo: '/userinfo', jwks: '/jwks', end_session: '/session/end' },
    enabledJWA: { idTokenSigningAlgValues: v1 ? ['HS256', 'ES256'] : ['ES256'] },
    features: {
      devInteractions: { enabled: false },
      encryption: { enabled: plus },
      jwtUserinfo: { enabled: plus },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          const auto = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.body = `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Déconnexion FranceConnect</title></head><body><main><h1>Déconnexion</h1>${auto}<button form="op.logoutForm" type="submit">Se déconnecter</button></main><script>document.getElementById('op.logoutForm').submit()</script></body></html>`;
        },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(['openid', ...pivot].join(' '));
      await grant.save();
      return grant;
    },
    findAccount: async (ctx, id) => {
      const c = Object.values(citizens).find((x) => x.sub === id);
      if (!c) return undefined;
      return { accountId: id, claims: async () => ({ ...c }) };
    },
    ttl: { AccessToken: 60, IdToken: 60, AuthorizationCode: 30, Session: 600, Interaction: 600, Grant: 600 },
  });

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path.endsWith('/token') && tamper && ctx.body && ctx.body.id_token) {
      const mode = tamper;
      tamper = null;
      ctx.body.id_token = await spoil(ctx.body.id_token, mode);
    }
  });

  async function spoil(token, mode) {
    let jws = token;
    if (token.split('.').length === 5) {
      jws = new TextDecoder().decode((await jose.compactDecrypt(token, coeurKey)).plaintext);
    }
    const c = jose.decodeJwt(jws);
    const now = Math.floor(Date.now() / 1000);
    if (mode === 'nonce') c.nonce = 'x'.repeat(43);
    if (mode === 'issuer') c.iss = 'http://127.0.0.1:9/evil';
    if (mode === 'expired') { c.iat = now - 4000; c.exp = now - 3600; }
    if (mode === 'acr') c.acr = 'eidas1';
    if (v1 && mode === 'none') return new jose.UnsecuredJWT(c).encode();
    if (v1 && mode !== 'es256') {
      const secret = new TextEncoder().encode(mode === 'foreign' ? 'another-secret-0123456789abcdefghij' : cfg.client_secret);
      return new jose.SignJWT(c).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
    }
    if (mode === 'confused') {
      // The public key, as published, used as an HMAC secret, under its kid.
      const secret = new TextEncoder().encode(JSON.stringify(published[0]));
      return new jose.SignJWT(c).setProtectedHeader({ alg: 'HS256', kid: signingJwk.kid, typ: 'JWT' }).sign(secret);
    }
    let key = mode === 'foreign' ? forger.privateKey : signing.privateKey;
    let kid = signingJwk.kid;
    if (mode === 'rotated') {
      const fresh = await jose.generateKeyPair('ES256');
      kid = `fc-${kind}-${published.length + 1}`;
      published.push({ ...(await jose.exportJWK(fresh.publicKey)), kid, alg: 'ES256', use: 'sig' });
      key = fresh.privateKey;
    }
    const signed = await new jose.SignJWT(c).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(key);
    if (!plus || mode === 'plain') return signed;
    const { keys } = await (await fetch(cfg.jwks_uri)).json();
    const to = await jose.importJWK(keys[0], 'ECDH-ES');
    return new jose.CompactEncrypt(new TextEncoder().encode(signed))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: keys[0].kid, cty: 'JWT' })
      .encrypt(to);
  }

  const callback = provider.callback();
  handler = async (req, res) => {
    try {
      const url = new URL(req.url, issuer);
      if (url.pathname === '/__test/tamper' && req.method === 'POST') {
        tamper = (await readBody(req)).get('mode');
        res.end('ok');
        return;
      }
      if (v1 && url.pathname.startsWith('/.well-known/')) {
        // FranceConnect v1 has no discovery: coeur must use the endpoints it is given.
        res.statusCode = 404;
        res.end('no discovery here');
        return;
      }
      if (url.pathname === '/jwks' && published.length > 1) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: published }));
        return;
      }
      const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (m) {
        const details = await provider.interactionDetails(req, res);
        if (!m[2]) {
          res.setHeader('content-type', 'text/html; charset=utf-8');
          res.end(`<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>FranceConnect (test)</title></head><body><main>
<h1>Connexion FranceConnect${plus ? '+' : ''} (test)</h1>
<form method="post" action="/interaction/${esc(details.uid)}/login">
<label for="login">Identifiant</label> <input id="login" name="login" autocomplete="username">
<label for="password">Mot de passe</label> <input id="password" name="password" type="password" autocomplete="current-password">
<input type="hidden" name="acr" value="${defaultAcr}">
<button type="submit" id="submit">Se connecter</button>
<button type="submit" name="cancel" value="1" id="cancel">Annuler</button>
</form></main></body></html>`);
          return;
        }
        const form = await readBody(req);
        let result;
        if (form.get('cancel')) {
          result = { error: 'access_denied', error_description: 'User auth aborted' };
        } else {
          const c = citizens[form.get('login')];
          if (!c || form.get('password') !== '123') {
            res.statusCode = 403;
            res.end('wrong login or password');
            return;
          }
          result = { login: { accountId: c.sub, acr: form.get('acr') || defaultAcr, amr: ['pwd'] } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
        return;
      }
      callback(req, res);
    } catch (e) {
      process.stderr.write(`fc-upstream: ${e.stack}\n`);
      res.statusCode = 500;
      res.end(String(e));
    }
  };
}
