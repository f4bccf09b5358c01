// Mailroom webmail: small progressive enhancements. Every page works
// without this script.
"use strict";

(function () {
  // Ask before destructive actions (delete a folder, empty Trash).
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  // Live updates: a page showing a mailbox or a message listens to the
  // account's changes and refreshes its content when its mailbox changed
  // (from IMAP, POP3, new mail or another browser) without a reload.
  var live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) {
    return;
  }
  var mailbox = live.getAttribute("data-live");
  var pending = false;
  function refresh() {
    if (pending) { return; }
    pending = true;
    setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "live" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          pending = false;
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("main");
          var main = document.querySelector("main");
          if (fresh && main) {
            main.innerHTML = fresh.innerHTML;
            document.title = doc.title;
            live = document.querySelector("[data-live]");
          }
        })
        .catch(function () { pending = false; });
    }, 150);
  }
  var es = new EventSource("/events");
  es.addEventListener("change", function (ev) {
    if (ev.data === mailbox || ev.data === "0") {
      refresh();
    }
  });
})();
