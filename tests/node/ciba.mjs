// CIBA driven by panva's openid-client (its own CIBA functions, with its defaults):
// initiateBackchannelAuthentication, then pollBackchannelAuthenticationGrant, which validates
// the ID token. Run by tests/it/ciba_openid_client.rs, which approves the request between the
// script's two lines of output.
//
//   node ciba.mjs ISSUER CLIENT_ID CLIENT_SECRET NATIONAL_ID CHANNEL poll
//   node ciba.mjs ISSUER CLIENT_ID CLIENT_SECRET NATIONAL_ID CHANNEL ping PORT
//
// Prints a JSON line once the request is acknowledged, then a JSON line with the outcome.
// In ping mode it listens on 127.0.0.1:PORT/ping (the client's notification endpoint) and
// asks for the tokens only once pinged.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

const [issuer, clientId, secret, nationalId, channel, mode, port] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, secret, undefined, {
  execute: [client.allowInsecureRequests],
});

let pinged;
const ping = new Promise((resolve) => {
  pinged = resolve;
});
let server;
const token = randomBytes(24).toString('base64url');
if (mode === 'ping') {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      res.statusCode = 204;
      res.end();
      pinged({ authorization: req.headers.authorization, body: JSON.parse(body) });
    });
  });
  await new Promise((r) => server.listen(Number(port), '127.0.0.1', r));
}

const params = {
  scope: 'openid all',
  login_hint: nationalId,
  binding_message: 'B1',
  acr_values: 'eidas1',
  channel,
};
if (mode === 'ping') params.client_notification_token = token;
const started = await client.initiateBackchannelAuthentication(config, params);
console.log(
  JSON.stringify({
    acknowledged: true,
    expires_in: started.expires_in,
    interval: started.interval,
    auth_req_id_length: started.auth_req_id.length,
  }),
);

let notification = null;
if (mode === 'ping') {
  notification = await ping;
  server.close();
}
try {
  const tokens = await client.pollBackchannelAuthenticationGrant(config, started);
  console.log(
    JSON.stringify({
      claims: tokens.claims(),
      scope: tokens.scope,
      refresh_token: Boolean(tokens.refresh_token),
      ping_ok:
        notification === null
          ? null
          : notification.authorization === `Bearer ${token}` &&
            notification.body.auth_req_id === started.auth_req_id,
    }),
  );
} catch (e) {
  console.log(JSON.stringify({ error: e.error ?? e.code ?? String(e), description: e.error_description }));
}
