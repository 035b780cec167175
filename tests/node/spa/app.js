// A single-page application on its own origin, logging in to coeur with oidc-client-ts: a
// public client, the code flow with PKCE, every call to coeur a cross-origin fetch (discovery,
// token, userinfo, revocation). Served by tests/it/cors_browser.rs; the page's path names the
// client (`/<client_id>/start`, `/<client_id>/callback`), /config.js the issuer.
//
// When done, the page writes a JSON report into #out and sets its title to "done".
"use strict";

const clientId = location.pathname.split("/")[1];
const manager = new oidc.UserManager({
  authority: window.COEUR_ISSUER,
  client_id: clientId,
  redirect_uri: `${location.origin}/${clientId}/callback`,
  response_type: "code",
  scope: "openid scope_all",
  loadUserInfo: true,
  userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
});

function report(value) {
  document.getElementById("out").textContent = JSON.stringify(value);
  document.title = "done";
}

function failure(step, e) {
  report({ ok: false, step, error: String((e && e.message) || e) });
}

async function callback() {
  let user;
  try {
    user = await manager.signinRedirectCallback();
  } catch (e) {
    return failure("signinRedirectCallback", e);
  }
  const metadata = await manager.metadataService.getMetadata();
  const accessToken = user.access_token;
  try {
    await manager.revokeTokens(["refresh_token"]);
  } catch (e) {
    return failure("revokeTokens", e);
  }
  // The grant is revoked: userinfo refuses the access token, and the page can read why.
  let afterRevocation;
  try {
    const r = await fetch(metadata.userinfo_endpoint, {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    afterRevocation = { status: r.status, www_authenticate: r.headers.get("WWW-Authenticate") };
  } catch (e) {
    return failure("userinfo after revocation", e);
  }
  report({
    ok: true,
    profile: user.profile,
    scope: user.scope,
    had_refresh_token: Boolean(user.refresh_token),
    after_revocation: afterRevocation,
  });
}

if (location.pathname.endsWith("/callback")) {
  callback();
} else {
  manager.signinRedirect().catch((e) => failure("signinRedirect", e));
}
