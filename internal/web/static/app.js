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
          // Only the parts that show mail state are replaced, so a search
          // being typed, an open panel or the focus stay as they are.
          var doc = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live-part]").forEach(function (el) {
            var fresh = doc.querySelector('[data-live-part="' + el.getAttribute("data-live-part") + '"]');
            if (fresh) {
              el.innerHTML = fresh.innerHTML;
            }
          });
          document.title = doc.title;
        })
        .catch(function () { pending = false; });
    }, 150);
  }
  // A folder shared by another account changes in that account: the
  // page asks to follow it too.
  var es = new EventSource(live.hasAttribute("data-live-follow") ? "/events?follow=1" : "/events");
  es.addEventListener("change", function (ev) {
    if (ev.data === mailbox || ev.data === "0") {
      refresh();
    }
  });
})();
