// The dashboard's only script of its own (the Content-Security-Policy allows no inline script): the throughput
// chart (uPlot) and the live log of a job (the API's server-sent events). Everything it shows is set as text,
// never as markup.
(function () {
  "use strict";

  var plot = null;

  function drawChart() {
    var box = document.getElementById("chart");
    var data = document.getElementById("chart-data");
    if (!box || !data || typeof uPlot === "undefined") {
      return;
    }
    var d = JSON.parse(data.textContent);
    if (plot) {
      plot.destroy();
      plot = null;
    }
    var width = Math.max(300, box.clientWidth || 600);
    plot = new uPlot({
      width: width,
      height: 200,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(4, max)]; } } },
      axes: [{ stroke: "#6b7280", grid: { stroke: "#eef0f3" } }, { stroke: "#6b7280", grid: { stroke: "#eef0f3" } }],
      series: [
        {},
        { label: "succeeded", stroke: "#16a34a", fill: "rgba(22,163,74,0.12)", width: 2 },
        { label: "failed", stroke: "#dc2626", fill: "rgba(220,38,38,0.12)", width: 2 }
      ]
    }, [d.t, d.ok, d.failed], box);
  }

  var source = null;
  var lastStep = null;

  function followLog() {
    var pre = document.getElementById("log");
    var state = document.getElementById("log-state");
    if (!pre || !pre.dataset.src || source) {
      return;
    }
    pre.textContent = "";
    lastStep = null;
    delete pre.dataset.ended;
    source = new EventSource(pre.dataset.src);
    source.addEventListener("status", function (e) {
      var s = JSON.parse(e.data);
      state.textContent = "job " + s.status.replace("_", " ") + " · following the log";
    });
    source.addEventListener("log", function (e) {
      var l = JSON.parse(e.data);
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      if (l.step_id !== lastStep) {
        pre.appendChild(document.createTextNode((lastStep === null ? "" : "\n") + "==> " + l.step_id + " <==\n"));
        lastStep = l.step_id;
      }
      pre.appendChild(document.createTextNode(l.line + "\n"));
      if (atBottom) {
        pre.scrollTop = pre.scrollHeight;
      }
    });
    source.addEventListener("end", function (e) {
      var s = JSON.parse(e.data);
      stop();
      pre.dataset.ended = s.status;
      state.textContent = "end of log · job " + s.status.replace("_", " ");
    });
    source.onerror = function () {
      // the server ended the stream or went away: a reconnect would replay the log from its start, so stop here
      if (source) {
        stop();
        if (!pre.dataset.ended) {
          state.textContent = "disconnected · reload the page to follow again";
        }
      }
    };
  }

  function stop() {
    if (source) {
      source.close();
      source = null;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawChart();
    followLog();
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    var t = e.detail && e.detail.target;
    if (document.getElementById("chart")) {
      drawChart();
    }
    // a job that was waiting (its stream ended) and now runs again: follow the new run's log
    var live = document.getElementById("job-live");
    var pre = document.getElementById("log");
    if (live && pre && pre.dataset.ended && ["queued", "running"].indexOf(live.dataset.state) >= 0 && !source) {
      followLog();
    }
    return t;
  });
})();
