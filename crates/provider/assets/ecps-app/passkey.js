// The passkey login page: asks the browser for an assertion by a discoverable credential
// (user verification required) over the server's challenge, then posts it with the page's
// form; the server checks it and completes the login. Started at once, and again by the
// button (after a cancellation, say).
const form = document.getElementById("passkey-form");
const err = document.getElementById("passkey-error");
const words = {};
for (const el of document.getElementById("passkey-words").children) words[el.dataset.k] = el.textContent;

const b64u = (buf) => {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const bytes = (s) => {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
};

let busy = false;
async function go() {
  if (busy) return;
  busy = true;
  err.hidden = true;
  try {
    if (!window.PublicKeyCredential) {
      err.textContent = words.unsupported;
      err.hidden = false;
      return;
    }
    const cred = await navigator.credentials.get({
      publicKey: {
        challenge: bytes(form.dataset.challenge),
        rpId: form.dataset.rpId,
        userVerification: "required",
        timeout: 120000,
      },
    });
    form.elements.credential_id.value = b64u(cred.rawId);
    form.elements.client_data_json.value = b64u(cred.response.clientDataJSON);
    form.elements.authenticator_data.value = b64u(cred.response.authenticatorData);
    form.elements.signature.value = b64u(cred.response.signature);
    form.submit();
  } catch {
    err.textContent = words.failed;
    err.hidden = false;
  } finally {
    busy = false;
  }
}

document.getElementById("passkey-start").addEventListener("click", go);
if (!document.querySelector("[role=alert]:not([hidden]):not(#passkey-error)")) go();
