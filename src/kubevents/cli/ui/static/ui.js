// kubevents ui: live rows over server-sent events. The server renders and escapes every row;
// this script only places them, and refreshes the timeline when rows arrive.
"use strict";

(function () {
  var url = document.body.getAttribute("data-live");
  if (!url || !window.EventSource) {
    return;
  }
  var state = document.getElementById("live-state");
  var table = document.querySelector("#events tbody");
  var total = document.getElementById("total");
  var chart = document.getElementById("timeline");
  var refreshing = false;
  var pending = false;

  function show(text) {
    if (state) {
      state.textContent = text;
    }
  }

  function refreshChart() {
    if (!chart || !chart.getAttribute("data-src")) {
      return;
    }
    if (refreshing) {
      pending = true;
      return;
    }
    refreshing = true;
    fetch(chart.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text !== null) {
          // Server-rendered SVG: every value in it is escaped by the server.
          chart.innerHTML = text;
        }
      })
      .finally(function () {
        refreshing = false;
        if (pending) {
          pending = false;
          refreshChart();
        }
      });
  }

  var source = new EventSource(url);
  source.onopen = function () { show("live"); };
  source.onerror = function () { show("reconnecting"); };
  source.addEventListener("lost", function () {
    source.close();
    show("fell behind: reload for the newest rows");
  });
  source.addEventListener("rows", function (message) {
    var data = JSON.parse(message.data);
    var added = 0;
    var holder = document.createElement("tbody");
    // Newest first, as the table runs: insert in reverse so the newest ends on top.
    for (var i = data.rows.length - 1; i >= 0; i--) {
      holder.innerHTML = data.rows[i];
      var row = holder.firstElementChild;
      if (!row || !table) {
        continue;
      }
      var seq = row.getAttribute("data-seq");
      if (table.querySelector('tr[data-seq="' + seq + '"]')) {
        continue; // already on the page (it arrived while the page was read)
      }
      row.classList.add("new");
      table.insertBefore(row, table.firstElementChild);
      added++;
    }
    if (added && total) {
      total.textContent = String(Number(total.textContent) + added);
    }
    if (added) {
      refreshChart();
    }
    show("live");
  });
})();
