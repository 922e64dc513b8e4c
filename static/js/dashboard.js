// The call dashboard's two charts (templates: callbacks/dashboard.html), drawn with
// Chart.js from static/vendor/chartjs.  The data comes from the page's json_script
// element: no inline script (CSP).  Readable without colour: this period is drawn as
// hatched bars, the previous period as a dashed line with triangles (series chart)
// or dotted bars (outcomes chart), every axis is labelled, and the numbers are in
// the tables beside the charts.
(function () {
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var INK = "#2457d6", PREVIOUS = "#6b7385";

  // A small tile repeated over a bar: diagonal stripes or dots on a light ground.
  function pattern(kind, color) {
    var tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    var g = tile.getContext("2d");
    g.fillStyle = kind === "dots" ? "#eef1f6" : color + "55";
    g.fillRect(0, 0, 8, 8);
    g.strokeStyle = g.fillStyle = color;
    if (kind === "dots") {
      g.beginPath(); g.arc(4, 4, 1.6, 0, 2 * Math.PI); g.fill();
    } else {
      g.lineWidth = 2;
      g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2);
      g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
    }
    return g.createPattern(tile, "repeat");
  }

  // This period's bars: hatched, outlined.
  function hatched(label, values) {
    return { label: label, data: values, backgroundColor: pattern("stripes", INK),
             borderColor: INK, borderWidth: 1, pointStyle: "rect" };
  }

  var common = {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: "bottom", labels: { usePointStyle: true } } },
  };

  var series = document.getElementById("chart-series");
  if (series) {
    new Chart(series, {
      type: "bar",
      data: {
        labels: data.series.labels,
        datasets: [
          Object.assign(hatched("Calls, this period (hatched bars)", data.series.calls),
                        { order: 2 }),
          { label: "Calls, previous period (dashed line, triangles)", type: "line",
            data: data.series.previous_calls, borderColor: PREVIOUS, borderDash: [6, 4],
            pointStyle: "triangle", pointRadius: 4, backgroundColor: PREVIOUS, order: 1 },
        ],
      },
      options: Object.assign({}, common, {
        scales: {
          x: { title: { display: true, text: data.series.unit === "day" ? "Day" : "Hour" } },
          y: { beginAtZero: true, title: { display: true, text: "Calls" }, ticks: { precision: 0 } },
        },
      }),
    });
  }

  var outcomes = document.getElementById("chart-outcomes");
  if (outcomes) {
    new Chart(outcomes, {
      type: "bar",
      data: {
        labels: data.outcomes.labels,
        datasets: [
          hatched("This period (hatched)", data.outcomes.calls),
          { label: "Previous period (dotted)", data: data.outcomes.previous_calls,
            backgroundColor: pattern("dots", PREVIOUS), borderColor: PREVIOUS, borderWidth: 1,
            pointStyle: "circle" },
        ],
      },
      options: Object.assign({}, common, {
        indexAxis: "y",
        scales: {
          x: { beginAtZero: true, title: { display: true, text: "Calls" }, ticks: { precision: 0 } },
        },
      }),
    });
  }
})();
