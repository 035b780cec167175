// The e-CPS web app's service worker: keeps the app's shell (page, scripts, manifest, icon)
// so that the app opens offline and installs as an application. The shell is fetched from
// the network first (a new coeur serves its new app at once) and from the cache when the
// network fails. API calls and the live feed are never cached.
const CACHE = "coeur-ecps-shell-v1";
const SHELL = ["./", "app.js", "store.js", "manifest.webmanifest", "icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const scope = new URL(self.registration.scope);
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
    return; // the device API and everything else: straight to the network
  }
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          const key = req.mode === "navigate" ? "./" : req;
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return res;
      })
      .catch(() =>
        caches.match(req.mode === "navigate" ? "./" : req).then((hit) => hit || Response.error()),
      ),
  );
});
