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

  // The rule form: each condition and action row shows only the fields
  // its choice uses (a folder for "move", an address for "forward"…).
  // Without this script every field shows, and the server ignores the
  // ones a choice does not use.
  function showParts(row) {
    var v = row.querySelector("select").value;
    row.querySelectorAll(".part").forEach(function (p) {
      var when = p.getAttribute("data-when"), unless = p.getAttribute("data-unless");
      var show = when === null || when.split(" ").indexOf(v) >= 0;
      if (unless !== null && unless.split(" ").indexOf(v) >= 0) { show = false; }
      p.hidden = !show;
    });
  }
  document.querySelectorAll(".ruleform .row").forEach(function (row) {
    showParts(row);
    row.querySelector("select").addEventListener("change", function () { showParts(row); });
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
