"use strict";
// spheregrad's run report: the latent space over training, the loss terms (raw and weighted),
// the schedule, the final metrics and the experiment. DATA (written by spheregrad, above this
// script) holds the run; Dygraph is Debian's libjs-dygraphs, inlined above it.
//
// For tests, the page reports on itself: body[data-ready] once everything is drawn,
// body[data-charts] the charts that drew points, body[data-latent-points] the latents drawn,
// body[data-errors] the script errors (also listed on the page).

const errors = [];
function showErrors() {
  document.body.dataset.errors = errors.length;
  document.getElementById("errors").textContent = errors.length ? "script errors: " + errors.join("; ") : "";
}
window.addEventListener("error", e => { errors.push(e.message); showErrors(); });

// One color per name, the same in every panel and every report.
const FIXED = {
  "total": "#000000", "recon": "#7f7f7f", "loss-recon": "#7f7f7f", "lr": "#8c564b",
  "reg-separate": "#1f77b4", "separate": "#1f77b4", "reg-planar": "#2ca02c", "reg-norm": "#9467bd",
  "reg-norm-v": "#e377c2", "reg-polar": "#d62728", "anchor": "#d62728", "reg-anchor": "#ff7f0e",
  "subspace": "#17becf", "anti-anchor": "#bcbd22", "anti-subspace": "#6b6ecf",
  "data-fraction": "#393b79", "data-hues": "#637939", "data-vibrancies": "#843c39",
};
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"];
function colorOf(name) {
  if (FIXED[name]) return FIXED[name];
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

// The final metrics: a human name, a unit, and what it means.
const METRICS = {
  recon_mse_validation: ["reconstruction error", "MSE", "over the RGB 8^3 cube"],
  crumpled: ["crumpled", "", "the hue wheel is out of order: inversions > 0 or |winding| != 1 (360 hues)"],
  hue_inversions: ["hue-order inversions", "of 360", "neighbouring vibrant hues out of cyclic order; 0 on a clean wheel"],
  hue_winding: ["hue winding", "turns", "of the 360 vibrant hues around the origin; +-1 on a clean wheel"],
  hue_inversions_36: ["hue-order inversions", "of 36", "the same at every 10 deg"],
  hue_winding_36: ["hue winding", "turns", "the same at every 10 deg"],
  hue_inversions_at_deg: ["where the inversions are", "deg", "the hue each inverted step starts at"],
  red_cosine: ["red alignment", "cos", "of red's latent to +dim 0; 1 = red on its axis"],
  red_angle_deg: ["red's angle in the hue plane", "deg", "from +dim 0"],
  radius_mean: ["radius", "mean |z|", "over the RGB 8^3 cube; 1 = on the unit sphere"],
  radius_std: ["radius spread", "sd of |z|", "over the RGB 8^3 cube"],
  planarity_vibrant: ["off the hue plane", "mean z^2, dims >= 2", "of the 360 vibrant hues; 0 = all in dims 0-1"],
  hue_resultant: ["hue bunching", "|mean direction|", "of the 360 vibrant hues; 0 = spread all round, 1 = all one way"],
  spacing_deg: ["spacing of the primaries and secondaries", "deg", "angles between consecutive ones; 60 each when even"],
  separate_final: ["angular repulsion, last batch", "raw", "p = 10, no shift"],
  dome_height: ["dome height", "mean |z_2|", "of the hues at s = 1, v = 0.5 (3+ dims)"],
  dome_consistency: ["dome consistency", "", "|mean z_2| / mean |z_2|; 1 = every darker hue on one side"],
  seed: ["seed", "", "of every random stream"],
  steps: ["steps", "", "of training"],
  steps_per_second: ["speed", "steps/s", "of this run, outputs excluded"],
};

function formatValue(v) {
  if (Array.isArray(v)) return v.map(formatValue).join(", ");
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : (+v.toPrecision(4)).toString();
  return v === null ? "-" : String(v);
}

// ---------------------------------------------------------------- the latent panel
// The cube's corners are named colors: label them at every snapshot (index r*64 + g*8 + b).
const CORNERS = [["red", 448], ["yellow", 504], ["green", 56], ["cyan", 63], ["blue", 7],
                 ["magenta", 455], ["black", 0], ["white", 511]];
const slider = document.getElementById("slider"), stepLabel = document.getElementById("step");
const projection = document.getElementById("projection");
let cursorStep = 0;

function projections() {
  const pairs = [[1, 0]];  // dim 1 across, dim 0 up: red on top
  for (let a = 0; a < DATA.dims; ++a)
    for (let b = a + 1; b < DATA.dims; ++b)
      if (!(a === 0 && b === 1)) pairs.push([a, b]);
  for (const [x, y] of pairs) {
    const o = document.createElement("option");
    o.value = x + "," + y;
    o.text = "dim " + x + " across, dim " + y + " up";
    projection.add(o);
  }
}

function drawLatent(s) {
  const c = document.getElementById("latent"), g = c.getContext("2d");
  const w = c.width, h = c.height, margin = 34, size = Math.min(w, h) - 2 * margin;
  const extent = 1.6, scale = size / (2 * extent), cx = margin + size / 2, cy = margin + size / 2;
  const [dx, dy] = projection.value.split(",").map(Number);
  const k = DATA.dims, z = DATA.snapshots[s].z;
  g.clearRect(0, 0, w, h);
  g.font = "11px sans-serif";
  // Axes with ticks every 0.5, the unit circle.
  g.strokeStyle = "#bbb";
  g.strokeRect(margin, margin, size, size);
  g.fillStyle = "#555";
  for (let t = -1.5; t <= 1.5001; t += 0.5) {
    const x = cx + t * scale, y = cy - t * scale;
    g.beginPath(); g.moveTo(x, margin + size); g.lineTo(x, margin + size + 4); g.moveTo(margin - 4, y); g.lineTo(margin, y); g.stroke();
    g.textAlign = "center"; g.fillText(t.toFixed(1), x, margin + size + 15);
    g.textAlign = "right"; g.fillText(t.toFixed(1), margin - 6, y + 4);
  }
  g.strokeStyle = "#e4e4e4";
  g.beginPath(); g.moveTo(margin, cy); g.lineTo(margin + size, cy); g.moveTo(cx, margin); g.lineTo(cx, margin + size); g.stroke();
  g.setLineDash([5, 4]); g.strokeStyle = "#888";
  g.beginPath(); g.arc(cx, cy, scale, 0, 2 * Math.PI); g.stroke(); g.setLineDash([]);
  g.textAlign = "center"; g.fillStyle = "#333";
  g.fillText("dim " + dx, cx, h - 4);
  g.save(); g.translate(11, cy); g.rotate(-Math.PI / 2); g.fillText("dim " + dy, 0, 0); g.restore();
  let drawn = 0;
  for (let i = 0; i < DATA.colors.length; ++i) {
    const col = DATA.colors[i], x = cx + scale * z[i * k + dx], y = cy - scale * z[i * k + dy];
    if (!isFinite(x) || !isFinite(y)) continue;
    g.fillStyle = "rgb(" + col.map(v => Math.round(255 * v)).join(",") + ")";
    g.beginPath(); g.arc(x, y, 3.5, 0, 2 * Math.PI); g.fill();
    ++drawn;
  }
  g.textAlign = "left"; g.fillStyle = "#000";
  for (const [name, i] of CORNERS) {
    const x = cx + scale * z[i * k + dx], y = cy - scale * z[i * k + dy];
    g.strokeStyle = "#000"; g.beginPath(); g.arc(x, y, 5, 0, 2 * Math.PI); g.stroke();
    g.fillText(name, x + 7, y - 5);
  }
  document.body.dataset.latentPoints = drawn;
}

// ---------------------------------------------------------------- the charts
const charts = [];
let syncing = false;

// Phase bands, dopesheet events and the latent panel's step, under every time axis.
function underlay(ctx, area, g) {
  ctx.save();
  ctx.font = "11px sans-serif";
  DATA.phases.forEach((p, i) => {
    const x0 = Math.max(area.x, g.toDomXCoord(p.start)), x1 = Math.min(area.x + area.w, g.toDomXCoord(p.end + 1));
    if (x1 <= x0) return;
    ctx.fillStyle = i % 2 ? "rgba(70, 110, 200, 0.07)" : "rgba(70, 110, 200, 0.14)";
    ctx.fillRect(x0, area.y, x1 - x0, area.h);
    ctx.fillStyle = "#456";
    ctx.fillText(p.name, x0 + 3, area.y + 11, Math.max(0, x1 - x0 - 6));
  });
  ctx.strokeStyle = "#c60"; ctx.fillStyle = "#c60"; ctx.setLineDash([3, 3]);
  for (const e of DATA.events) {
    const x = g.toDomXCoord(e.step);
    if (x < area.x || x > area.x + area.w) continue;
    ctx.beginPath(); ctx.moveTo(x, area.y); ctx.lineTo(x, area.y + area.h); ctx.stroke();
    ctx.fillText(e.names.join(", "), x + 3, area.y + area.h - 4);
  }
  ctx.setLineDash([]);
  const x = g.toDomXCoord(cursorStep);
  if (x >= area.x && x <= area.x + area.w) {
    ctx.strokeStyle = "#000"; ctx.beginPath(); ctx.moveTo(x, area.y); ctx.lineTo(x, area.y + area.h); ctx.stroke();
  }
  ctx.restore();
}

function chart(id, title, ylabel, data) {
  const names = data.series.map(s => s.name);
  const rows = data.steps.map((x, i) => [x].concat(data.series.map(s => (s.y[i] === null ? null : s.y[i]))));
  const box = document.getElementById(id);
  const graph = new Dygraph(box.querySelector(".chart"), rows, {
    labels: ["step"].concat(names), colors: names.map(colorOf), title: title, xlabel: "step", ylabel: ylabel,
    logscale: true, legend: "always", labelsDiv: box.querySelector(".legend"), labelsSeparateLines: false,
    rollPeriod: +document.getElementById("smoothing").value, strokeWidth: 1.4, connectSeparatedPoints: false,
    axes: {y: {valueFormatter: v => (+v.toPrecision(4)).toString(), axisLabelWidth: 58,
               axisLabelFormatter: v => (v >= 0.01 && v < 1000 ? (+v.toPrecision(2)).toString() : v.toExponential(0))}},
    underlayCallback: underlay,
    zoomCallback: (lo, hi) => {
      if (syncing) return;
      syncing = true;
      for (const other of charts) if (other !== graph) other.updateOptions({dateWindow: [lo, hi]});
      syncing = false;
    },
  });
  // Series toggles.
  const toggles = box.querySelector(".toggles");
  names.forEach((name, i) => {
    const label = document.createElement("label"), check = document.createElement("input");
    check.type = "checkbox"; check.checked = true;
    check.onchange = () => graph.setVisibility(i, check.checked);
    const swatch = document.createElement("span");
    swatch.className = "swatch"; swatch.style.background = colorOf(name);
    label.append(check, swatch, name);
    toggles.append(label);
  });
  charts.push(graph);
}

function redrawCharts() {
  for (const g of charts) g.updateOptions({}, false);
}

// ---------------------------------------------------------------- the page
function show(s) {
  cursorStep = DATA.snapshots[s].step;
  stepLabel.textContent = "step " + cursorStep + " (" + (s + 1) + " of " + DATA.snapshots.length + ")";
  drawLatent(s);
  redrawCharts();
}

function metricsTable() {
  const table = document.getElementById("metrics");
  for (const [key, v] of Object.entries(DATA.summary)) {
    const [name, unit, meaning] = METRICS[key] || [key, "", ""];
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    const value = tr.insertCell();
    value.className = "v"; value.textContent = formatValue(v);
    tr.insertCell().textContent = unit;
    const m = tr.insertCell();
    m.className = "m"; m.textContent = meaning;
  }
}

function main() {
  document.getElementById("description").textContent = DATA.description;
  document.getElementById("experiment").textContent = JSON.stringify(DATA.experiment, null, 2);
  projections();
  slider.max = DATA.snapshots.length - 1;
  slider.value = DATA.snapshots.length - 1;
  chart("raw", "Loss terms, raw (unweighted window means)", "value (log)", DATA.raw);
  chart("weighted", "Loss terms as summed into the total (weight x raw)", "value (log)", DATA.weighted);
  chart("schedule", "Schedule (the dopesheet's values)", "value (log)", DATA.schedule);
  metricsTable();
  let timer = null;
  document.getElementById("play").onclick = function () {
    if (timer) { clearInterval(timer); timer = null; this.textContent = "play"; return; }
    this.textContent = "pause";
    timer = setInterval(() => {
      const next = (+slider.value + 1) % DATA.snapshots.length;
      slider.value = next; show(next);
    }, 150);
  };
  slider.oninput = () => show(+slider.value);
  projection.onchange = () => show(+slider.value);
  document.getElementById("smoothing").onchange = e => {
    for (const g of charts) g.updateOptions({rollPeriod: Math.max(1, +e.target.value)});
  };
  show(DATA.snapshots.length - 1);
  document.body.dataset.charts = charts.filter(g => g.numRows() > 0 && g.numColumns() > 1).length;
  showErrors();
  document.body.dataset.ready = "1";
}

try {
  main();
} catch (e) {
  errors.push(String(e && e.stack || e));
  showErrors();
}
