/* Device refresh tracker: small page behaviours shared by the templates. */
(function () {
  "use strict";

  // GOV.UK colour palette, in an order that keeps neighbouring series distinct.
  var PALETTE = [
    "#1d70b8", "#00703c", "#f47738", "#d4351c", "#4c2c92",
    "#28a197", "#912b88", "#505a5f", "#ffdd00", "#003078"
  ];

  function ready() {
    return typeof window.Chart !== "undefined";
  }

  function setDefaults() {
    window.Chart.defaults.font.family = "arial, sans-serif";
    window.Chart.defaults.font.size = 14;
    window.Chart.defaults.color = "#0b0c0c";
  }

  /* A stacked bar chart from {labels, datasets: [{label, data}]}. The page always has
   * a table with the same figures: the canvas is aria-hidden. */
  function stackedBarChart(canvasId, data, options) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || !ready()) { return null; }
    setDefaults();
    var datasets = data.datasets.map(function (set, i) {
      return {
        label: set.label,
        data: set.data,
        backgroundColor: set.color || PALETTE[i % PALETTE.length],
        borderWidth: 0
      };
    });
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: Object.assign({
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
        },
        plugins: { legend: { position: "bottom" } }
      }, options || {})
    });
  }

  window.App = { stackedBarChart: stackedBarChart, palette: PALETTE };
})();
