"use strict";
// spheregrad's reports, one script for the three kinds (DATA.kind, written by spheregrad above
// this script; Dygraph is Debian's libjs-dygraphs, inlined above it):
// - "run": one run's latent space over training, its loss terms (raw and weighted), its
//   schedule, its final metrics and its experiment;
// - "comparison": runs side by side -- latents at the same steps, each loss term and schedule
//   column with the runs overlaid, the metrics with their differences, compare's tables;
// - "sweep": per experiment the crumple rate with its interval, the distribution of every final
//   metric, and a sortable table of the runs linking to their own reports.
//
// For tests, the page reports on itself: body[data-ready] once everything is drawn,
// body[data-charts] the charts that drew points, body[data-latent-points] the latents drawn in
// the first latent panel (the strip plots' points for a sweep), body[data-interventions] the
// interventions shown with all three panels, body[data-errors] the script errors (also listed on
// the page).

const errors = [];
function showErrors() {
  document.body.dataset.errors = errors.length;
  document.getElementById("errors").textContent = errors.length ? "script errors: " + errors.join("; ") : "";
}
window.addEventListener("error", e => { errors.push(e.message); showErrors(); });

function element(tag, attributes, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

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
// Runs overlaid in one chart keep their term's color and differ by dash.
const DASHES = [[], [7, 3], [2, 2], [9, 3, 2, 3]];

// The final metrics: a human name, a unit, and what it means.
const METRICS = {
  recon_mse_validation: ["reconstruction error", "MSE", "over the RGB 8^3 cube"],
  crumpled: ["crumpled", "", "the hue wheel is out of order: inversions > 0 or |winding| != 1 (360 hues)"],
  crumpled_36: ["crumpled (36 hues)", "", "the same at every 10 deg"],
  fold_deg: ["largest fold", "deg", "the angle a run of neighbouring hues travels backwards; rings of 360 hues at (s, v) = (1, 1), (1, 0.5), (0.5, 1)"],
  visible_fold: ["visible fold", "", "largest fold >= 10 deg (one cell of the 36-hue training grid)"],
  gap_deg: ["largest gap", "deg", "the largest step between hues 1 deg apart, on the same rings; about 1 on an even wheel"],
  spacing_error_deg: ["spacing error", "deg", "largest |angle between a primary and the next secondary - 60|, on the same rings"],
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
  spacing_min_deg: ["smallest spacing of the primaries", "deg", "60 when even"],
  spacing_max_deg: ["largest spacing of the primaries", "deg", "60 when even"],
  separate_final: ["angular repulsion, last batch", "raw", "p = 10, no shift"],
  dome_height: ["dome height", "mean |z_2|", "of the hues at s = 1, v = 0.5 (3+ dims)"],
  dome_consistency: ["dome consistency", "", "|mean z_2| / mean |z_2|; 1 = every darker hue on one side"],
  final_total: ["training loss", "total", "the last step's"],
  final_recon: ["reconstruction loss", "", "the last step's batch"],
  train_hue_inversions: ["hue-order inversions, trained hues", "", "with a held-out band"],
  train_hue_winding: ["hue winding, trained hues", "turns", "with a held-out band"],
  train_gap_deg: ["largest gap between trained hues", "deg", "with a held-out band"],
  seed: ["seed", "", "of every random stream"],
  steps: ["steps", "", "of training"],
  steps_per_second: ["speed", "steps/s", "of this run, outputs excluded"],
};
function metricName(key) { return (METRICS[key] || [key])[0]; }

function formatValue(v) {
  if (Array.isArray(v)) return v.map(formatValue).join(", ");
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : (+v.toPrecision(4)).toString();
  return v === null || v === undefined ? "-" : String(v);
}

// ---------------------------------------------------------------- latent panels
// The cube's corners are named colors: labelled at every snapshot (index r*64 + g*8 + b).
const CORNERS = [["red", 448], ["yellow", 504], ["green", 56], ["cyan", 63], ["blue", 7],
                 ["magenta", 455], ["black", 0], ["white", 511]];

function projectionChoices(select, dims) {
  const pairs = [[1, 0]];  // dim 1 across, dim 0 up: red on top
  for (let a = 0; a < dims; ++a)
    for (let b = a + 1; b < dims; ++b)
      if (!(a === 0 && b === 1)) pairs.push([a, b]);
  for (const [x, y] of pairs) select.add(element("option", {value: x + "," + y, text: "dim " + x + " across, dim " + y + " up"}));
}

// Draws run `run` (its DATA) at snapshot s on `canvas`; returns the points drawn.
function drawLatent(canvas, run, s, projection) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, margin = 34, size = Math.min(w, h) - 2 * margin;
  const extent = 1.6, scale = size / (2 * extent), cx = margin + size / 2, cy = margin + size / 2;
  const [dx, dy] = projection.split(",").map(Number);
  const k = run.dims, z = run.snapshots[s].z;
  g.clearRect(0, 0, w, h);
  g.font = "11px sans-serif";
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
  if (dx >= k || dy >= k) return 0;  // a projection this run's bottleneck lacks
  let drawn = 0;
  for (let i = 0; i < run.colors.length; ++i) {
    const col = run.colors[i], x = cx + scale * z[i * k + dx], y = cy - scale * z[i * k + dy];
    if (!isFinite(x) || !isFinite(y)) continue;
    g.fillStyle = "rgb(" + col.map(v => Math.round(255 * v)).join(",") + ")";
    g.beginPath(); g.arc(x, y, 3.5, 0, 2 * Math.PI); g.fill();
    ++drawn;
  }
  g.textAlign = "left"; g.fillStyle = "#000"; g.strokeStyle = "#000";
  for (const [name, i] of CORNERS) {
    const x = cx + scale * z[i * k + dx], y = cy - scale * z[i * k + dy];
    g.beginPath(); g.arc(x, y, 5, 0, 2 * Math.PI); g.stroke();
    g.fillText(name, x + 7, y - 5);
  }
  return drawn;
}

// The snapshot of `run` at `step`: the last one taken at or before it.
function snapshotAt(run, step) {
  let best = 0;
  run.snapshots.forEach((snap, i) => { if (snap.step <= step) best = i; });
  return best;
}

// ---------------------------------------------------------------- charts
const charts = [];
let syncing = false, cursorStep = 0;

// Phase bands (of the first run; the others' phase starts as lines in their dash), dopesheet
// events and the latent panels' step, under every time axis.
function underlay(runs) {
  return (ctx, area, g) => {
    ctx.save();
    ctx.font = "11px sans-serif";
    runs[0].phases.forEach((p, i) => {
      const x0 = Math.max(area.x, g.toDomXCoord(p.start)), x1 = Math.min(area.x + area.w, g.toDomXCoord(p.end + 1));
      if (x1 <= x0) return;
      ctx.fillStyle = i % 2 ? "rgba(70, 110, 200, 0.07)" : "rgba(70, 110, 200, 0.14)";
      ctx.fillRect(x0, area.y, x1 - x0, area.h);
      ctx.fillStyle = "#456";
      ctx.fillText(p.name, x0 + 3, area.y + 11, Math.max(0, x1 - x0 - 6));
    });
    runs.forEach((run, r) => {
      if (r > 0) {
        ctx.strokeStyle = "#456"; ctx.setLineDash(DASHES[r % DASHES.length].length ? DASHES[r % DASHES.length] : [1, 0]);
        for (const p of run.phases) {
          const x = g.toDomXCoord(p.start);
          if (p.start === 0 || x < area.x || x > area.x + area.w) continue;
          ctx.beginPath(); ctx.moveTo(x, area.y); ctx.lineTo(x, area.y + area.h); ctx.stroke();
          ctx.fillStyle = "#456"; ctx.fillText(p.name, x + 3, area.y + 11 + 12 * r);
        }
      }
      ctx.strokeStyle = "#c60"; ctx.fillStyle = "#c60"; ctx.setLineDash([3, 3]);
      for (const e of run.events) {
        const x = g.toDomXCoord(e.step);
        if (x < area.x || x > area.x + area.w) continue;
        ctx.beginPath(); ctx.moveTo(x, area.y); ctx.lineTo(x, area.y + area.h); ctx.stroke();
        ctx.fillText(e.names.join(", "), x + 3, area.y + area.h - 4 - 12 * r);
      }
    });
    ctx.setLineDash([]);
    const x = g.toDomXCoord(cursorStep);
    if (x >= area.x && x <= area.x + area.w) {
      ctx.strokeStyle = "#000"; ctx.beginPath(); ctx.moveTo(x, area.y); ctx.lineTo(x, area.y + area.h); ctx.stroke();
    }
    ctx.restore();
  };
}

// How many decades the positive values of `lines` span: a log axis only where they span some.
function decades(lines) {
  const v = lines.flatMap(l => l.y).filter(x => typeof x === "number" && x > 0);
  return v.length ? Math.log10(Math.max(...v) / Math.min(...v)) : 0;
}

// A chart in `parent`: lines = [{label, color, dash, steps, y}] (each on its own steps), log y.
function chart(parent, title, lines, runs, width) {
  const box = element("div", {class: "panel"});
  const plot = element("div", {class: "chart"}), legend = element("div", {class: "legend"}), toggles = element("div", {class: "toggles"});
  if (width) plot.style.width = legend.style.width = toggles.style.width = width + "px";
  box.append(plot, legend, toggles);
  parent.append(box);
  // One row per step any line has, null where a line has none.
  const steps = [...new Set(lines.flatMap(l => l.steps))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const rows = steps.map(s => [s].concat(lines.map(() => null)));
  lines.forEach((l, j) => l.steps.forEach((s, i) => { rows[index.get(s)][j + 1] = l.y[i] === undefined ? null : l.y[i]; }));
  const series = {};
  for (const l of lines) series[l.label] = {strokePattern: l.dash && l.dash.length ? l.dash : null};
  const graph = new Dygraph(plot, rows, {
    labels: ["step"].concat(lines.map(l => l.label)), colors: lines.map(l => l.color), series: series,
    title: title, xlabel: "step", logscale: decades(lines) > 1.3, legend: "always", labelsDiv: legend,
    rollPeriod: Math.max(1, +(document.getElementById("smoothing") || {value: 1}).value),
    strokeWidth: 1.4, connectSeparatedPoints: lines.some(l => l.steps !== lines[0].steps),  // runs on other steps
    axes: {y: {valueFormatter: v => (+v.toPrecision(4)).toString(), axisLabelWidth: 58,
               axisLabelFormatter: v => (v >= 0.01 && v < 1000 ? (+v.toPrecision(2)).toString() : v.toExponential(0))}},
    underlayCallback: underlay(runs),
    zoomCallback: (lo, hi) => {
      if (syncing) return;
      syncing = true;
      for (const other of charts) if (other !== graph) other.updateOptions({dateWindow: [lo, hi]});
      syncing = false;
    },
  });
  lines.forEach((l, i) => {
    const check = element("input", {type: "checkbox"});
    check.checked = true;
    check.onchange = () => graph.setVisibility(i, check.checked);
    const swatch = element("span", {class: "swatch"});
    swatch.style.background = l.color;
    toggles.append(element("label", {}, check, swatch, l.label));
  });
  charts.push(graph);
}

// The lines of one series list ({steps, series: [{name, y}]}) of a run.
function linesOf(run, list, r, only) {
  return list.series.filter(s => !only || s.name === only).map(s => ({
    label: only ? run.name : s.name, color: colorOf(s.name), dash: DASHES[r % DASHES.length], steps: list.steps, y: s.y}));
}

function smoothingControl(parent) {
  const input = element("input", {id: "smoothing", type: "number", min: "1", max: "100", value: "1", style: "width: 48px"});
  input.onchange = () => { for (const g of charts) g.updateOptions({rollPeriod: Math.max(1, +input.value)}); };
  parent.append(" smoothing ", input, " windows");
}

function redrawCharts() { for (const g of charts) g.updateOptions({}, false); }

// ---------------------------------------------------------------- tables
// A table of `rows` (arrays) under `head`; sortable by any column when `sortable`.
function table(parent, head, rows, sortable) {
  const t = element("table", {class: "metrics"});
  const header = t.createTHead().insertRow();
  const body = t.createTBody();
  const fill = list => {
    body.replaceChildren();
    for (const row of list) {
      const tr = body.insertRow();
      row.forEach(cell => {
        const td = tr.insertCell();
        if (cell instanceof Node) td.append(cell);
        else { td.textContent = formatValue(cell); if (typeof cell === "number") td.className = "v"; }
      });
    }
  };
  head.forEach((name, c) => {
    const th = element("th", {text: name});
    if (sortable) {
      th.style.cursor = "pointer";
      th.title = "sort";
      let up = true;
      th.onclick = () => {
        const key = row => (row[c] instanceof Node ? row[c].textContent : row[c]);
        rows.sort((a, b) => {
          const x = key(a), y = key(b);
          const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return up ? order : -order;
        });
        up = !up;
        fill(rows);
      };
    }
    header.append(th);
  });
  fill(rows);
  parent.append(t);
}

function metricRows(summaries) {
  const keys = [...new Set(summaries.flatMap(s => Object.keys(s)))];
  return keys.map(key => {
    const [name, unit, meaning] = METRICS[key] || [key, "", ""];
    const values = summaries.map(s => s[key]);
    const row = [name].concat(values);
    if (summaries.length === 2)
      row.push(typeof values[0] === "number" && typeof values[1] === "number" ? values[1] - values[0] : "");
    const m = element("span", {class: "m", text: meaning});
    return row.concat([unit, m]);
  });
}

function experimentDetails(parent, experiment, what) {
  parent.append(element("details", {},
    element("summary", {text: what + " (the resolved experiment: spheregrad train experiment.json runs it again)"}),
    element("pre", {text: JSON.stringify(experiment, null, 2)})));
}

// ---------------------------------------------------------------- the three pages
// Latent panels, one per run, stepped together; returns show(step).
function latentPanels(parent, runs) {
  const controls = element("div", {id: "controls"});
  const play = element("button", {text: "play"}), slider = element("input", {type: "range", min: "0", style: "width: 300px"});
  const label = element("span"), projection = element("select");
  projectionChoices(projection, Math.max(...runs.map(r => r.dims)));
  const steps = [...new Set(runs.flatMap(r => r.snapshots.map(s => s.step)))].sort((a, b) => a - b);
  slider.max = steps.length - 1;
  slider.value = steps.length - 1;
  controls.append(play, slider, label, element("br"), projection);
  smoothingControl(controls);
  const row = element("div", {class: "row"});
  const canvases = runs.map(run => {
    const c = element("canvas", {width: runs.length > 1 ? "400" : "470", height: runs.length > 1 ? "400" : "470"});
    row.append(runs.length > 1 ? element("div", {}, element("div", {class: "runname", text: run.name}), c) : c);
    return c;
  });
  parent.append(controls, row, element("div", {class: "sub", text:
    "Dashed circle: |z| = 1. Circled: the cube's corners, named. Drag across a chart to zoom (all charts follow), " +
    "double-click to reset; untick a name to hide its line."}));
  const show = () => {
    cursorStep = steps[+slider.value];
    label.textContent = " step " + cursorStep;
    runs.forEach((run, r) => {
      const drawn = drawLatent(canvases[r], run, snapshotAt(run, cursorStep), projection.value);
      if (r === 0) document.body.dataset.latentPoints = drawn;
    });
    redrawCharts();
  };
  let timer = null;
  play.onclick = () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
    play.textContent = "pause";
    timer = setInterval(() => { slider.value = (+slider.value + 1) % steps.length; show(); }, 150);
  };
  slider.oninput = show;
  projection.onchange = show;
  return show;
}

function runPage(page) {
  const run = Object.assign({name: DATA.title}, DATA);
  document.getElementById("description").textContent = DATA.description;
  const top = element("div", {class: "row"});
  const left = element("div", {class: "panel", id: "latent-panel"}, element("h2", {text: "Latent space (RGB 8^3 cube)"}));
  const right = element("div");
  top.append(left, right);
  page.append(top);
  const show = latentPanels(left, [run]);
  chart(right, "Loss terms, raw (unweighted window means)", linesOf(run, DATA.raw, 0), [run]);
  chart(right, "Loss terms as summed into the total (weight x raw)", linesOf(run, DATA.weighted, 0), [run]);
  chart(right, "Schedule (the dopesheet's values)", linesOf(run, DATA.schedule, 0), [run]);
  page.append(element("h2", {text: "Final metrics"}));
  table(page, ["metric", "value", "unit", "meaning"], metricRows([DATA.summary]), false);
  interventions(page, run);
  page.append(element("h2", {text: "Experiment"}));
  experimentDetails(page, DATA.experiment, "experiment.json");
  show();
}

// The interventions `spheregrad intervene` added to this run, in the paper's three panels: the
// final latents with red on top, the reconstruction grid after the intervention, the error
// curves before and after (the last two are the intervention's own SVGs).
function interventions(page, run) {
  const list = DATA.interventions || [];
  let shown = 0;
  if (list.length) {
    page.append(element("h2", {text: "Interventions"}), element("div", {class: "sub", text:
      "Each intervention's folder holds these figures and its colors.csv and summary.json. The score is R^2 of " +
      "each cube color's change in MSE against its similarity to the concept, to the power shown."}));
  }
  const svg = text => URL.createObjectURL(new Blob([text], {type: "image/svg+xml"}));
  for (const v of list) {
    const f = formatValue;
    page.append(element("h3", {text: v.title}), element("div", {class: "sub", text:
      "R^2 " + f(v.r2) + " (power " + v.power + "); red dMSE " + f(v.red_dmse) + ", cyan dMSE " + f(v.cyan_dmse) +
      "; cube MSE " + f(v.cube_before) + " -> " + f(v.cube_after) + "; folder " + v.folder}));
    const latents = element("canvas", {width: "360", height: "360"});
    const drawn = drawLatent(latents, run, run.snapshots.length - 1, "1,0");
    page.append(element("div", {class: "row"}, latents, element("img", {src: svg(v.errors), alt: "error curves"})),
      element("img", {src: svg(v.patches), alt: "reconstruction grid", style: "max-width: 100%"}));
    if (drawn > 0 && v.patches && v.errors) ++shown;
  }
  document.body.dataset.interventions = shown;
}

function comparisonPage(page) {
  const runs = DATA.runs.map(r => Object.assign({name: r.name}, r.data));
  document.getElementById("description").textContent = runs.map(r => r.name + ": " + r.description).join("; ");
  const latent = element("div", {class: "panel"}, element("h2", {text: "Latent spaces at the same step (RGB 8^3 cube)"}));
  page.append(latent);
  const show = latentPanels(latent, runs);
  page.append(element("h2", {text: "Loss terms, raw (window means): runs overlaid, one dash per run"}));
  const losses = element("div", {class: "row"});
  page.append(losses);
  const terms = [...new Set(runs.flatMap(r => r.raw.series.map(s => s.name)))];
  for (const term of terms)
    chart(losses, term, runs.flatMap((run, r) => linesOf(run, run.raw, r, term)), runs, 470);
  page.append(element("h2", {text: "Schedules"}));
  const schedules = element("div", {class: "row"});
  page.append(schedules);
  const columns = [...new Set(runs.flatMap(r => r.schedule.series.map(s => s.name)))];
  for (const column of columns)
    chart(schedules, column, runs.flatMap((run, r) => linesOf(run, run.schedule, r, column)), runs, 470);
  page.append(element("h2", {text: "Final metrics"}));
  const head = ["metric"].concat(runs.map(r => r.name));
  if (runs.length === 2) head.push("difference (" + runs[1].name + " - " + runs[0].name + ")");
  table(page, head.concat(["unit", "meaning"]), metricRows(runs.map(r => r.summary)), false);
  const tables = element("div");
  tables.innerHTML = DATA.tables;  // compare's own tables: spikes, magnitudes, noise
  page.append(tables);
  page.append(element("h2", {text: "Experiments"}));
  runs.forEach(r => experimentDetails(page, r.experiment, r.name));
  show();
}

// Wilson score interval of k successes in n, at 95 %.
function wilson(k, n) {
  if (!n) return [NaN, NaN];
  const z = 1.96, p = k / n, d = 1 + z * z / n, c = (p + z * z / (2 * n)) / d;
  const h = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

// A strip plot of `metric` per experiment: one dot per run, jittered, the median marked.
function stripPlot(parent, metric, groups) {
  const w = 460, h = 60 + 34 * groups.length;
  const c = element("canvas", {width: String(w), height: String(h)});
  parent.append(element("div", {class: "panel"}, c));
  const g = c.getContext("2d");
  const values = groups.flatMap(([, rows]) => rows.map(r => r[metric])).filter(v => typeof v === "number" && isFinite(v));
  if (!values.length) return 0;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const L = 170, R = 16, top = 30, px = v => L + (w - L - R) * (v - lo) / (hi - lo);
  g.font = "12px sans-serif"; g.fillStyle = "#222"; g.textAlign = "left";
  g.fillText(metricName(metric) + (METRICS[metric] && METRICS[metric][1] ? " (" + METRICS[metric][1] + ")" : ""), 4, 16);
  g.font = "11px sans-serif"; g.strokeStyle = "#bbb";
  g.beginPath(); g.moveTo(L, h - 22); g.lineTo(w - R, h - 22); g.stroke();
  g.textAlign = "center"; g.fillStyle = "#555";
  for (let t = 0; t <= 4; ++t) {
    const v = lo + (hi - lo) * t / 4;
    g.fillText(formatValue(+v.toPrecision(3)), px(v), h - 8);
  }
  let drawn = 0;
  groups.forEach(([name, rows], i) => {
    const y = top + 34 * i + 10;
    g.textAlign = "right"; g.fillStyle = "#222"; g.fillText(name, L - 8, y + 4, L - 12);
    const vs = rows.map(r => r[metric]).filter(v => typeof v === "number" && isFinite(v)).sort((a, b) => a - b);
    g.fillStyle = "rgba(31, 119, 180, 0.6)";
    vs.forEach((v, j) => {
      const jitter = ((j * 7919) % 13 - 6) * 1.2;
      g.beginPath(); g.arc(px(v), y + jitter, 3, 0, 2 * Math.PI); g.fill(); ++drawn;
    });
    if (vs.length) {
      const median = vs[Math.floor((vs.length - 1) / 2)];
      g.strokeStyle = "#d62728"; g.beginPath(); g.moveTo(px(median), y - 11); g.lineTo(px(median), y + 11); g.stroke();
    }
  });
  return drawn;
}

function sweepPage(page) {
  document.getElementById("description").textContent = DATA.description;
  const rows = DATA.rows;
  const groups = [];
  for (const r of rows) {
    const name = r.experiment + (r.without ? " without " + r.without : "");
    let group = groups.find(([n]) => n === name);
    if (!group) groups.push(group = [name, []]);
    group[1].push(r);
  }
  page.append(element("h2", {text: "Crumple rate per experiment (Wilson 95 % interval)"}));
  table(page, ["experiment", "runs", "crumpled (360 hues)", "rate", "95 % interval", "crumpled (36 hues)",
               "visible fold (>= 10 deg)", "rate", "95 % interval", "errors"],
        groups.map(([name, list]) => {
          const ok = list.filter(r => r.status === "ok");
          const rate = column => {
            const k = ok.filter(r => r[column] === 1).length, [a, b] = wilson(k, ok.length);
            return [k, ok.length ? (100 * k / ok.length).toFixed(1) + " %" : "-",
                    ok.length ? (100 * a).toFixed(1) + " - " + (100 * b).toFixed(1) + " %" : "-"];
          };
          return [name, list.length, ...rate("crumpled"), ok.filter(r => r.crumpled_36 === 1).length,
                  ...rate("visible_fold"), list.length - ok.length];
        }), true);
  page.append(element("h2", {text: "Distributions of the final metrics (one dot per run; red: the median)"}));
  const strips = element("div", {class: "row"});
  page.append(strips);
  let drawn = 0;
  for (const metric of DATA.metrics) drawn += stripPlot(strips, metric, groups.map(([n, list]) => [n, list.filter(r => r.status === "ok")]));
  document.body.dataset.latentPoints = drawn;
  page.append(element("h2", {text: "Runs (click a column to sort; a run links to its report)"}));
  const head = ["run", "experiment", "without", "seed", "status"].concat(DATA.metrics.map(m =>
    metricName(m) + (METRICS[m] && METRICS[m][1] ? " (" + METRICS[m][1] + ")" : "")));
  table(page, head, rows.map(r => {
    const name = r.report ? element("a", {href: r.report, text: String(r.run)}) : r.run;
    return [name, r.experiment, r.without, r.seed, r.status].concat(DATA.metrics.map(m => r[m]));
  }), true);
  document.body.dataset.charts = drawn > 0 ? DATA.metrics.length : 0;
}

function main() {
  const page = document.getElementById("page");
  if (DATA.kind === "comparison") comparisonPage(page);
  else if (DATA.kind === "sweep") sweepPage(page);
  else runPage(page);
  if (DATA.kind !== "sweep") document.body.dataset.charts = charts.filter(g => g.numRows() > 0 && g.numColumns() > 1).length;
  showErrors();
  document.body.dataset.ready = "1";
}

try {
  main();
} catch (e) {
  errors.push(String(e && e.stack || e));
  showErrors();
}
