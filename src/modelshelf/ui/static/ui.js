// modelshelf ui: keep the page live. Every few seconds ask the server for this
// page's fingerprint (same URL, X-Modelshelf-Poll header, a few bytes of JSON);
// when it differs from the one the page was rendered with, the registry changed:
// reload, unless the user is typing into a form, then offer a reload instead.
(function () {
  "use strict";
  var body = document.body;
  var shown = body.getAttribute("data-fingerprint");
  var every = parseInt(body.getAttribute("data-poll-ms"), 10);
  var live = document.getElementById("live");
  var notice = document.getElementById("changed");
  var stopped = false;

  function editing() {
    var active = document.activeElement;
    if (active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) { return true; }
    return Array.prototype.some.call(document.querySelectorAll("details.edit"), function (d) {
      return d.open;
    });
  }

  function mark(state) {
    if (live) { live.className = "live " + state; }
    body.setAttribute("data-live", state);
  }

  function poll() {
    if (stopped) { return; }
    fetch(window.location.href, {
      headers: { "X-Modelshelf-Poll": "1", "Accept": "application/json" },
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (answer) {
      mark("on");
      if (answer.fingerprint && answer.fingerprint !== shown) {
        if (editing()) {
          notice.hidden = false;
        } else {
          stopped = true;
          window.location.reload();
        }
      }
    }).catch(function () {
      mark("off");
    }).then(function () {
      if (!stopped) { window.setTimeout(poll, every); }
    });
  }

  // A page answering a form (an error shown after a write) has no URL to poll.
  if (every > 0) { window.setTimeout(poll, every); } else { mark("off"); }
  body.setAttribute("data-ui-ready", "yes");
})();
