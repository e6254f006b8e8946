// Kuznia's service worker: keeps the field-entry page and the files it needs, so that the
// page opens with no connection. Pages are fetched from the network first (they change);
// the cached copy is used only when the network fails. Nothing else is cached: figures
// and records always come from the server (the form keeps its pick-lists itself, in
// localStorage, with their ETag).
"use strict";
const CACHE = "kuznia-field-v2";
const SHELL = ["/field", "/static/kuznia.css", "/static/field.js", "/static/field-theme.js",
               "/static/vendor/htmx/htmx.min.js", "/static/kuznia.js",
               "/static/vendor/chartjs/chart.umd.min.js", "/static/field.webmanifest",
               "/static/icons/field-192.png", "/static/icons/field-512.png"];

self.addEventListener("install", function (ev) {
  ev.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (ev) {
  ev.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (ev) {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (SHELL.indexOf(url.pathname) < 0) return;
  ev.respondWith(fetch(ev.request).then(function (r) {
    if (r.ok && !r.redirected) {
      const copy = r.clone();
      caches.open(CACHE).then(function (c) { c.put(url.pathname, copy); });
    }
    return r;
  }).catch(function () {
    return caches.match(url.pathname).then(function (hit) {
      return hit || new Response("Offline, and this page is not kept on this device.",
                                 { status: 503, headers: { "Content-Type": "text/plain" } });
    });
  }));
});
