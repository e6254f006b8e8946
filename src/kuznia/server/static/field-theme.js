// Night colours before the first paint (a white flash at night blinds): the choice kept on
// the device, else the device's preference. Loaded without defer, in the head; field.js
// owns the toggle.
"use strict";
(function () {
  let chosen = null;
  try { chosen = localStorage.getItem("kuznia-theme"); } catch (e) { /* none */ }
  const dark = chosen ? chosen === "dark"
    : !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
})();
