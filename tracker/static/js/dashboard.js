/* Dashboard charts: draws the figures in #dashboard-data with the vendored Chart.js, and offers each as a PNG.
   The page works without this file: every chart's figures are in the table below it. */
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source || !window.Chart) { return; }
  var Chart = window.Chart;
  var data = JSON.parse(source.textContent);

  var INK = "#1d2433";
  var GRID = "#dde2ea";
  var ACCENT = "#0b6e4f";
  // Each at least 3:1 against white (WCAG 1.4.11); neighbouring bars are also split by a white border,
  // and the legend, the tooltips and the tables name every series, so colour never carries meaning alone.
  var STATUS_COLOURS = {
    proposed: "#c2410c", drafting: "#a16207", consultation: "#7c3aed", adopted: "#1d4ed8",
    in_force: "#047857", suspended: "#b91c1c", expired: "#6b7280", superseded: "#4b5563",
    repealed: "#1f2937", withdrawn: "#9d174d", unknown: "#78716c"
  };
  var DAY = 86400000;

  Chart.defaults.font.family = "'Noto Sans Lao', 'Noto Sans', sans-serif";
  Chart.defaults.font.size = 13;
  Chart.defaults.color = INK;
  Chart.defaults.borderColor = GRID;
  // Drawn at once: a PNG or a screenshot never catches a chart half-way through an animation.
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  // "Unknown" is hatched as well as grey, so it does not read as one more shade of the ended statuses.
  function hatch(colour) {
    var tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    var ctx = tile.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, 8, 8);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.moveTo(-2, 10); ctx.lineTo(10, -2);
    ctx.moveTo(-2, 2); ctx.lineTo(2, -2);
    ctx.moveTo(6, 10); ctx.lineTo(10, 6);
    ctx.stroke();
    return ctx.createPattern(tile, "repeat");
  }

  // A white sheet under the chart, so the downloaded PNG is not transparent.
  var paper = {
    id: "paper",
    beforeDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    }
  };

  function countAxis(title) {
    return { beginAtZero: true, ticks: { precision: 0 }, title: { display: Boolean(title), text: title } };
  }

  function draw(name, config) {
    var canvas = document.getElementById("chart-" + name);
    if (!canvas) { return null; }
    config.plugins = [paper];
    var chart = new Chart(canvas, config);
    var button = document.querySelector("button[data-png='" + name + "']");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () { downloadPng(chart, button.getAttribute("data-filename")); });
    }
    return chart;
  }

  function downloadPng(chart, filename) {
    chart.canvas.toBlob(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
    }, "image/png");
  }

  function drawCountries(figures) {
    draw("countries", {
      type: "bar",
      data: {
        labels: figures.labels,
        datasets: figures.datasets.map(function (set) {
          var colour = STATUS_COLOURS[set.key] || INK;
          return {
            label: set.label, data: set.data, borderColor: "#ffffff", borderWidth: 1,
            backgroundColor: set.key === "unknown" ? hatch(colour) : colour
          };
        })
      },
      options: {
        indexAxis: "y",
        scales: { x: Object.assign(countAxis(figures.axis), { stacked: true }), y: { stacked: true, grid: { display: false } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 14 } } }
      }
    });
  }

  function drawStatusChanges(figures) {
    draw("status-changes", {
      type: "bar",
      data: { labels: figures.labels, datasets: [{ label: figures.label, data: figures.data, backgroundColor: ACCENT }] },
      options: {
        scales: { y: countAxis(figures.label), x: { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 60 } } },
        plugins: { legend: { display: false } }
      }
    });
  }

  function drawTopics(figures) {
    draw("topics", {
      type: "bar",
      data: { labels: figures.labels, datasets: [{ label: figures.label, data: figures.data, backgroundColor: ACCENT }] },
      options: {
        indexAxis: "y",
        scales: { x: countAxis(figures.label), y: { grid: { display: false } } },
        plugins: { legend: { display: false } }
      }
    });
  }

  function utc(isoDate) {
    var parts = isoDate.split("-");
    return Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]));
  }

  function shorten(text, limit) {
    return text.length <= limit ? text : text.slice(0, limit - 1).trim() + "\u2026";
  }

  function drawExpiries(figures) {
    var box = document.querySelector(".chart-expiries");
    if (box) { box.style.height = Math.max(224, figures.titles.length * 30 + 100) + "px"; }
    // Titles are long: a phone keeps only their start, so the bars keep most of the width.
    // (Chart.js gives the labels at most half the width and cuts what does not fit.)
    var limit = box && box.clientWidth < 600 ? 13 : 42;
    var labels = figures.titles.map(function (title, index) {
      return figures.codes[index] + " \u00b7 " + shorten(title, limit);
    });
    var today = utc(figures.today);
    var ends = figures.ends.map(utc);
    var last = Math.max.apply(null, ends.concat([today + 365 * DAY]));
    last += (last - today) * 0.02;
    draw("expiries", {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          label: figures.label, backgroundColor: ACCENT, borderSkipped: false, barPercentage: 0.7,
          data: ends.map(function (end) { return [today, end]; })
        }]
      },
      options: {
        indexAxis: "y",
        scales: {
          x: {
            type: "linear", min: today, max: last,
            // One tick per year (every few years on a long range), labelled with the year.
            afterBuildTicks: function (axis) {
              var first = new Date(today).getUTCFullYear() + 1;
              var lastYear = new Date(last).getUTCFullYear();
              var step = Math.max(1, Math.ceil((lastYear - first + 1) / 8));
              var ticks = [];
              for (var year = first; year <= lastYear; year += step) { ticks.push({ value: Date.UTC(year, 0, 1) }); }
              axis.ticks = ticks;
            },
            ticks: { callback: function (value) { return String(new Date(value).getUTCFullYear()); } },
            title: { display: true, text: figures.label }
          },
          y: { grid: { display: false } }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) { return figures.titles[items[0].dataIndex]; },
              label: function (item) { return figures.endsText + ": " + figures.endLabels[item.dataIndex]; }
            }
          }
        }
      }
    });
  }

  // Countries in the targets chart: distinct hues, each at least 3:1 against white; the legend, the
  // tooltips and the table name every country, so colour never carries meaning alone.
  var COUNTRY_COLOURS = ["#0b6e4f", "#1d4ed8", "#c2410c", "#7c3aed", "#a16207", "#b91c1c", "#0e7490",
    "#9d174d", "#4b5563", "#15803d", "#1f2937", "#6d28d9", "#78716c"];

  function drawTargets(figures) {
    draw("targets", {
      type: "bar",
      data: {
        labels: figures.labels,
        datasets: figures.datasets.map(function (set, index) {
          return {
            label: set.label, data: set.data, borderColor: "#ffffff", borderWidth: 1,
            backgroundColor: COUNTRY_COLOURS[index % COUNTRY_COLOURS.length]
          };
        })
      },
      options: {
        scales: { y: Object.assign(countAxis(figures.axis), { stacked: true }), x: { stacked: true, grid: { display: false } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 14 } } }
      }
    });
  }

  function drawAll() {
    document.documentElement.classList.add("charts-on");
    if (data.countries.datasets.length) { drawCountries(data.countries); }
    if (data["status-changes"].labels.length) { drawStatusChanges(data["status-changes"]); }
    if (data.topics.labels.length) { drawTopics(data.topics); }
    if (data.expiries.titles.length) { drawExpiries(data.expiries); }
    if (data.targets && data.targets.labels.length) { drawTargets(data.targets); }
  }

  // A canvas does not wait for web fonts: fetch the Lao face first when the labels need it, or Lao labels
  // would be drawn once, for good, in a fallback face.
  if (/[\u0e80-\u0eff]/.test(source.textContent) && document.fonts && document.fonts.load) {
    document.fonts.load("13px 'Noto Sans Lao'", "\u0ea5\u0eb2\u0ea7").then(drawAll, drawAll);
  } else {
    drawAll();
  }
}());
