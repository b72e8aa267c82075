// Kefu console: live countdowns and live inbox updates (server-sent events). The pages work
// without this file; it only keeps them current. No framework, no build step.
(function () {
  "use strict";
  var body = document.body;
  var overdueWord = body.dataset.overdue || "overdue";
  var leftWord = body.dataset.left || "left";

  function span(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".due[data-due]").forEach(function (el) {
      var ms = Date.parse(el.dataset.due) - now;
      el.classList.toggle("overdue", ms < 0);
      el.title = el.textContent;
      el.dataset.countdown = ms < 0 ? overdueWord + " " + span(ms) : span(ms) + " " + leftWord;
      var small = el.nextElementSibling && el.nextElementSibling.classList.contains("countdown")
        ? el.nextElementSibling : null;
      if (!small) {
        small = document.createElement("span");
        small.className = "countdown";
        el.after(small);
      }
      small.textContent = " (" + el.dataset.countdown + ")";
    });
  }

  function refreshRows() {
    var table = document.querySelector("table.inbox[data-rows]");
    if (!table) { return; }
    fetch(table.dataset.rows, { credentials: "same-origin", headers: { "accept": "text/html-fragment" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { document.getElementById("rows").innerHTML = html; tick(); }
      });
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  tick();
  setInterval(tick, 1000);
  if (window.EventSource && document.querySelector("table.inbox[data-rows]")) {
    var source = new EventSource("/events");
    var live = document.getElementById("live");
    source.addEventListener("open", function () { if (live) { live.hidden = false; } });
    source.addEventListener("error", function () { if (live) { live.hidden = true; } });
    source.addEventListener("changed", refreshRows);
  }
})();
