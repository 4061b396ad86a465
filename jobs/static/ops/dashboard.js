// Operations dashboard: poll the staff-only JSON feed and redraw the figures and the chart.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var root = document.getElementById("ops-dashboard");
  if (!root) { return; }
  var url = root.dataset.url;
  var every = (parseFloat(root.dataset.refreshSeconds) || 5) * 1000;

  function text(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = value; }
  }

  function cell(row, value, className) {
    var td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "–" : String(value);
    if (className) { td.className = className; }
    row.appendChild(td);
  }

  function fillBody(tableId, rows, build) {
    var body = document.querySelector("#" + tableId + " tbody");
    if (!body) { return; }
    var fresh = document.createElement("tbody");
    rows.forEach(function (item) {
      var row = document.createElement("tr");
      build(row, item);
      fresh.appendChild(row);
    });
    body.replaceWith(fresh);
  }

  function drawChart(series) {
    var svg = document.getElementById("ops-chart");
    if (!svg) { return; }
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var width = 600, height = 160, pad = 20;
    var peak = 1;
    series.forEach(function (m) { peak = Math.max(peak, m.submitted, m.succeeded, m.failed); });
    var step = (width - pad) / Math.max(1, series.length - 1);
    ["submitted", "succeeded", "failed"].forEach(function (name) {
      var points = series.map(function (m, i) {
        var x = pad + i * step;
        var y = height - pad - (m[name] / peak) * (height - 2 * pad);
        return x.toFixed(1) + "," + y.toFixed(1);
      });
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("class", "ops-line ops-" + name);
      svg.appendChild(line);
    });
    var label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "2");
    label.setAttribute("y", "12");
    label.setAttribute("class", "ops-axis");
    label.textContent = "max " + peak + "/min";
    svg.appendChild(label);
  }

  // 7342.2 → "2 h 2 min", 95 → "1 min 35 s", 4.5 → "4 s"; null → "–".
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "–"; }
    var s = Math.floor(seconds);
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + (s % 60) + " s"; }
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  // Requests never run, "5 / 60 min"; the tile is marked while the last 5 minutes had some.
  function shed(id, counts) {
    text(id, counts.last_5m + " / " + counts.last_60m);
    var tile = document.getElementById(id + "-tile");
    if (tile) { tile.classList.toggle("ops-alert", counts.last_5m > 0); }
  }

  function render(data) {
    var generated = new Date(data.generated_at);
    text("ops-generated", isNaN(generated) ? data.generated_at : generated.toLocaleTimeString());
    text("ops-queue-depth", data.queue.depth);
    text("ops-oldest-age", duration(data.queue.oldest_age_seconds));
    shed("ops-shed-waited", data.turned_away.waited);
    shed("ops-shed-client-left", data.turned_away.client_left);
    drawChart(data.throughput);
    fillBody("ops-providers", data.providers, function (row, p) {
      row.dataset.provider = p.name;
      cell(row, p.name);
      cell(row, p.enabled ? "yes" : "no");
      cell(row, p.in_flight + " / " + p.limit);
      cell(row, p.slots_in_use);
      cell(row, p.breaker, "ops-breaker-" + p.breaker);
      cell(row, p.paused ? "yes" : "no");
      cell(row, p.rate_limited_5m + " / " + p.rate_limited_60m);
      cell(row, p.errors_5m + " / " + p.errors_60m);
    });
    fillBody("ops-latency", Object.keys(data.latency).map(function (stage) {
      return data.latency[stage];
    }), function (row, s) {
      cell(row, s.what);
      cell(row, s.p50);
      cell(row, s.p95);
      cell(row, s.n);
    });
    var reasons = data.failure_reasons.length ? data.failure_reasons
      : [{ reason: "No failures.", count: "" }];
    fillBody("ops-failures", reasons, function (row, r) {
      cell(row, r.reason);
      cell(row, r.count);
    });
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        render(data);
        document.getElementById("ops-stale").hidden = true;
      })
      .catch(function () { document.getElementById("ops-stale").hidden = false; })
      .finally(function () { window.setTimeout(refresh, every); });
  }

  refresh();
}());
