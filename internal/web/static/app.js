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

  // The import page: while a job runs, its progress is fetched every
  // second; when it ends the page reloads to show the result. Without
  // this script the page has a Refresh link.
  var job = document.querySelector("[data-import-status] [data-import=messages]");
  if (job && window.fetch) {
    var tick = window.setInterval(function () {
      fetch("/settings/import/status", {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (st) {
        if (!st.running) {
          window.clearInterval(tick);
          window.location.reload();
          return;
        }
        ["messages", "total", "bytes", "folder"].forEach(function (k) {
          var el = document.querySelector("[data-import=" + k + "]");
          if (el) { el.textContent = st[k]; }
        });
        var bar = document.querySelector("[data-import=bar]");
        if (bar) { bar.max = st.total; bar.value = st.messages; }
      }).catch(function () {});
    }, 1000);
  }

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
