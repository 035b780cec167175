// Peer server for scripts/bench-provider.sh: panva's oidc-provider set up like coeur's
// client_credentials benchmark client.
//
// - one confidential client, client_secret_basic, grant type client_credentials only;
// - JWT access tokens (at+jwt) signed with ES256, as coeur's, through resource indicators: every
//   request falls back to one default resource server whose tokens are JWTs; JWT access tokens
//   are not written to the adapter, so this is stateless, like coeur's client_credentials;
// - lifetime 120 s and scope "scope_all", as coeur's sandbox realm.
//
// Usage: node oidc-provider-server.mjs --port PORT --client-id ID --secret SECRET
// Prints "ready" once it listens on 127.0.0.1:PORT.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    secret: { type: 'string' },
  },
});
if (!opt.port || !opt['client-id'] || !opt.secret) {
  console.error('oidc-provider-server.mjs: --port, --client-id and --secret are required');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${opt.port}`;
const resource = 'urn:coeur-bench:api';

const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: opt['client-id'],
      client_secret: opt.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'scope_all',
    },
  ],
  scopes: ['openid', 'offline_access', 'scope_all'],
  jwks: { keys: [jwk] },
  ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 120 },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'scope_all',
        audience: resource,
        accessTokenTTL: 120,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(Number(opt.port), '127.0.0.1', () => console.log('ready'));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
