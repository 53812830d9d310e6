// The report page's script (inlined by page.ts). Builds every section from the JSON in
// #vsched-data. Every value from the trace (request ids above all) is set with
// textContent or passed to uPlot, which also uses textContent: never as markup.
(function () {
  "use strict";
  var started = performance.now();

  // ---- data ---------------------------------------------------------------------------
  var CTORS = { f64: Float64Array, f32: Float32Array, u32: Uint32Array, i32: Int32Array, u8: Uint8Array };
  function decode(v) {
    if (Array.isArray(v)) return v.map(decode);
    if (v === null || typeof v !== "object") return v;
    if (typeof v.$t === "string" && typeof v.b64 === "string") {
      var bin = atob(v.b64);
      var bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return new CTORS[v.$t](bytes.buffer, 0, v.n);
    }
    var o = {};
    for (var k in v) o[k] = decode(v[k]);
    return o;
  }
  var D = decode(JSON.parse(document.getElementById("vsched-data").textContent));
  var S = D.summary;
  var app = document.getElementById("app");
  app.textContent = "";

  // ---- dom helpers ---------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent, child) {
    parent.appendChild(child);
    return child;
  }
  function section(id, title) {
    var s = add(app, el("section"));
    s.id = id;
    add(s, el("h2", null, title));
    return s;
  }
  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o === null || o === undefined ? null : o[k]; }, obj);
  }

  // ---- formatting ---------------------------------------------------------------------
  function fmtNs(ns) {
    if (ns === null || ns === undefined || isNaN(ns)) return "–";
    var a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(3) + " s";
    if (a >= 1e6) return (ns / 1e6).toFixed(3) + " ms";
    if (a >= 1e3) return (ns / 1e3).toFixed(1) + " µs";
    return ns.toFixed(0) + " ns";
  }
  function fmtNum(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    if (Number.isInteger(v) && digits === undefined) return v.toLocaleString("en-US");
    return v.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 2 : digits, minimumFractionDigits: digits === undefined ? 0 : digits });
  }
  function fmtPct(v) {
    return v === null || v === undefined || isNaN(v) ? "–" : (v * 100).toFixed(1) + "%";
  }
  var FMT = { ns: fmtNs, num: function (v) { return fmtNum(v); }, pct: fmtPct, f3: function (v) { return fmtNum(v, 3); } };

  /** a number on the page, tied to where it comes from: data-src (summary | statistics) and data-key */
  function figure(src, key, kind) {
    var v = get(src === "summary" ? S : D.statistics, key);
    var e = el("span", "fig", FMT[kind](v));
    e.setAttribute("data-src", src);
    e.setAttribute("data-key", key);
    e.setAttribute("data-value", JSON.stringify(v === undefined ? null : v));
    return e;
  }
  function card(parent, label, src, key, kind) {
    var c = add(parent, el("div", "card"));
    add(c, figure(src, key, kind)).className = "v fig";
    add(c, el("div", "k", label));
  }
  function shortId(id, n) {
    n = n || 80;
    return id.length > n ? id.slice(0, n) + "… (" + id.length.toLocaleString("en-US") + " chars)" : id;
  }

  // ---- charts ---------------------------------------------------------------------------
  var charts = [];
  var groups = { time: [], batch: [] };
  var syncing = false;
  function syncHook(group) {
    return function (u, key) {
      if (key !== "x" || syncing) return;
      syncing = true;
      var sc = u.scales.x;
      groups[group].forEach(function (o) {
        if (o !== u && o.root.isConnected) o.setScale("x", { min: sc.min, max: sc.max });
      });
      syncing = false;
    };
  }
  function width(parent) {
    return Math.max(320, Math.min(1240, (parent.clientWidth || 600) - 4));
  }
  /**
   * One chart. meta: id, title, series [{label, color, ...uPlot series opts}], points (values
   * per series before downsampling), group (time | batch | none), x label, y label.
   */
  function chart(parent, meta, data, extra) {
    var box = add(parent, el("div", "chart"));
    box.setAttribute("data-chart", meta.id);
    box.setAttribute("data-series", String(meta.series.length));
    box.setAttribute("data-points", String(meta.points));
    box.setAttribute("data-shown", String(data[0] ? data[0].length : 0));
    add(box, el("div", "title", meta.title));
    if (meta.note) add(box, el("div", "note", meta.note));
    var opts = {
      width: width(parent.classList && parent.classList.contains("grid2") ? box : parent),
      height: meta.height || 220,
      scales: { x: { time: false } },
      axes: [{ label: meta.x, size: 40 }, { label: meta.y, size: 60 }],
      series: [{ label: meta.x }].concat(meta.series.map(function (s) {
        var o = { label: s.label, stroke: s.color, width: 1.25 };
        for (var k in s) if (k !== "color") o[k] = s[k];
        return o;
      })),
      cursor: meta.group ? { sync: { key: meta.group } } : {},
      hooks: {},
      legend: { live: true },
    };
    if (meta.group) opts.hooks.setScale = [syncHook(meta.group)];
    if (extra) extra(opts);
    var u = new uPlot(opts, data, box);
    box.setAttribute("data-drawn-series", String(u.series.length - 1));
    charts.push(u);
    if (meta.group) groups[meta.group].push(u);
    return u;
  }
  function arr(a) {
    return Array.prototype.slice.call(a);
  }
  /**
   * uPlot draws null as a gap but takes NaN as a value: a NaN first value leaves the y scale
   * without a range and the chart empty. Step series hold NaN where a step has no value (a
   * step before the first GPU sample, step 0's CPU figure), so those become null.
   */
  function gaps(a) {
    for (var i = 0; i < a.length; i++) if (isNaN(a[i])) return Array.from(a, function (v) { return isNaN(v) ? null : v; });
    return a;
  }
  function ds(d) {
    return [d.x].concat(d.ys.map(gaps));
  }
  function points(d) {
    return d.points;
  }
  var bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.95, Infinity], align: 1 }) : undefined;
  var dotsOnly = { paths: function () { return null; }, points: { show: true, size: 4 } };

  /** vertical marker lines (percentiles, SLO) drawn over a chart */
  function markers(list) {
    return function (opts) {
      opts.hooks.draw = (opts.hooks.draw || []).concat(function (u) {
        var ctx = u.ctx;
        list.forEach(function (m) {
          if (m.x === null || m.x === undefined || isNaN(m.x)) return;
          var x = Math.round(u.valToPos(m.x, "x", true));
          ctx.save();
          ctx.strokeStyle = m.color;
          ctx.setLineDash(m.dash || [4, 3]);
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = m.color;
          ctx.font = 11 * devicePixelRatio + "px sans-serif";
          ctx.fillText(m.label, x + 3, u.bbox.top + 12 * devicePixelRatio);
          ctx.restore();
        });
      });
    };
  }

  // ---- header --------------------------------------------------------------------------
  var head = add(app, el("header"));
  add(head, el("h1", null, D.title));
  add(head, el("div", "dim", "from " + D.label + " · schema " + (S.schema_version || "?") + " · " + fmtNum(S.requests.total) + " requests · " + fmtNum(S.scheduler.iterations) + " steps · span " + fmtNs(S.span.duration_ns)));
  var NOTE_TEXT = {
    no_waiting_rows: "The tables hold no waiting rows of per_iteration_requests: waiting by cause over time, lanes and queue positions are not shown (convert with --iteration-requests all, or report on the raw trace).",
    iteration_requests_sampled: "per_iteration_requests records every Nth step only: counts by cause and lanes are sampled.",
    requests_selected: "Large run: the request table embeds the requests with the longest waits, slowest E2E and TTFT and most preemptions; every figure and distribution uses all requests.",
  };
  D.notes.forEach(function (n) { add(head, el("p", "note", NOTE_TEXT[n] || n)); });

  // ---- statistics (seed 002) ----------------------------------------------------------
  var st = section("statistics", "Scheduler statistics (seed 002)");
  var cards = add(st, el("div", "cards"));
  card(cards, "batches (steps)", "summary", "scheduler.iterations", "num");
  card(cards, "schedule time mean", "summary", "scheduler.scheduling_overhead.mean_ns", "ns");
  card(cards, "schedule time p95", "statistics", "schedule_ns.p95", "ns");
  card(cards, "schedule time max", "statistics", "schedule_ns.max", "ns");
  card(cards, "schedule time min", "statistics", "schedule_ns.min", "ns");
  card(cards, "model-run time mean", "summary", "scheduler.forward_duration.mean_ns", "ns");
  card(cards, "model-run time p95", "statistics", "model_run_ns.p95", "ns");
  card(cards, "scheduling share of step time", "summary", "scheduler.scheduling_share", "pct");
  card(cards, "scheduled tokens / s", "statistics", "scheduled_tokens_per_s", "num");
  card(cards, "output tokens / s", "summary", "throughput.output_tokens_per_s", "num");
  card(cards, "prefill share of scheduled requests", "summary", "scheduler.prefill_request_share", "pct");
  card(cards, "prefill chunk mean (tokens)", "summary", "scheduler.prefill_chunks.mean_tokens", "num");
  card(cards, "prefill chunk min", "summary", "scheduler.prefill_chunks.min_tokens", "num");
  card(cards, "prefill chunk max", "summary", "scheduler.prefill_chunks.max_tokens", "num");
  card(cards, "decode chunk mean (tokens)", "statistics", "decode_chunks.mean_tokens", "f3");
  card(cards, "decode chunk min (per-step mean)", "statistics", "decode_chunks.min_tokens", "f3");
  card(cards, "decode chunk max (per-step mean)", "statistics", "decode_chunks.max_tokens", "f3");

  // ---- summary figures ----------------------------------------------------------------
  var sm = section("summary", "Requests, latency, throughput (vsched summary)");
  var c2 = add(sm, el("div", "cards"));
  card(c2, "requests", "summary", "requests.total", "num");
  card(c2, "completed", "summary", "requests.completed", "num");
  card(c2, "aborted", "summary", "requests.aborted", "num");
  card(c2, "unfinished", "summary", "requests.unfinished", "num");
  card(c2, "requests / s", "summary", "throughput.requests_per_s", "f3");
  card(c2, "KV utilisation mean", "summary", "resources.kv_utilization_mean", "pct");
  card(c2, "KV utilisation peak", "summary", "resources.kv_utilization_peak", "pct");
  card(c2, "preemptions", "summary", "resources.preemptions", "num");
  card(c2, "requests preempted", "summary", "resources.preemption_rate", "pct");
  if (S.goodput) {
    card(c2, "goodput (requests meeting the SLO)", "summary", "goodput.requests", "num");
    card(c2, "goodput share", "summary", "goodput.share", "pct");
    card(c2, "goodput / s", "summary", "goodput.requests_per_s", "f3");
  }
  var lt = add(sm, el("table"));
  lt.id = "latency-table";
  var hr = add(add(lt, el("thead")), el("tr"));
  ["latency", "n", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"].forEach(function (h) { add(hr, el("th", null, h)); });
  var lb = add(lt, el("tbody"));
  ["ttft", "tpot", "itl", "queue_time", "e2e"].forEach(function (m) {
    var tr = add(lb, el("tr"));
    add(tr, el("td", null, m));
    if (!S.latency[m]) {
      add(tr, el("td", "dim", "not available (needs every step's rows)")).colSpan = 8;
      return;
    }
    add(add(tr, el("td")), figure("summary", "latency." + m + ".count", "num"));
    ["mean_ns", "p50_ns", "p90_ns", "p95_ns", "p99_ns", "p999_ns", "max_ns"].forEach(function (k) {
      add(add(tr, el("td")), figure("summary", "latency." + m + "." + k, "ns"));
    });
  });

  // ---- rank-dependent charts ----------------------------------------------------------
  var rankBox;
  var R = D.ranks;
  var P = D.palette;
  var STATE = P.states;
  function rankCharts(ri) {
    groups.time = groups.time.filter(function (u) { return !rankBox.contains(u.root); });
    groups.batch = [];
    rankBox.textContent = "";
    var r = R[ri];
    if (!r) {
      add(rankBox, el("p", "dim", "No steps in this run."));
      return;
    }
    var g1 = add(rankBox, el("div", "grid2"));
    chart(g1, { id: "timing", title: "Schedule time vs model-run time per batch (ms)", x: "batch", y: "ms", group: "batch", points: points(r.timing),
      series: [{ label: "schedule", color: "#e6550d" }, { label: "model run", color: "#3182bd" }] }, ds(r.timing));
    chart(g1, { id: "prefill-decode", title: "Prefill vs decode requests per batch", x: "batch", y: "requests", group: "batch", points: points(r.reqs),
      series: [{ label: "prefill", color: STATE.prefill }, { label: "decode", color: STATE.decode }] }, ds(r.reqs));
    chart(g1, { id: "tokens", title: "Total scheduled tokens per batch", x: "batch", y: "tokens", group: "batch", points: points(r.tokens),
      series: [{ label: "tokens", color: "#756bb1" }] }, ds(r.tokens));
    add(rankBox, el("h3", null, "Over time (s since the scheduler started)"));
    var g2 = add(rankBox, el("div", "grid2"));
    chart(g2, { id: "kv", title: "KV-cache utilisation (%)", x: "s", y: "%", group: "time", points: points(r.kv),
      series: [{ label: "KV used", color: "#e31a1c" }] }, ds(r.kv));
    chart(g2, { id: "queues", title: "Running and waiting requests", x: "s", y: "requests", group: "time", points: points(r.queues),
      series: [{ label: "running", color: STATE.decode }, { label: "waiting", color: "#fd8d3c" }] }, ds(r.queues));
    chart(g2, { id: "marks", title: "Admissions, completions, preemptions per step (marks)", x: "s", y: "per step", group: "time", points: points(r.marks),
      series: [{ label: "admitted", color: STATE.prefill, paths: dotsOnly.paths, points: { show: true, size: 5 } },
        { label: "completed", color: STATE.completed, paths: dotsOnly.paths, points: { show: true, size: 5 } },
        { label: "preempted", color: STATE.preempted, paths: dotsOnly.paths, points: { show: true, size: 6 } }] }, ds(r.marks));
    gpuCharts(g2, r);
    engineCpuCharts(g2, r);
    gpuTimeCharts(g2, r);
    if (r.causes) {
      // stacked: each layer drawn as the cumulative sum, filled down to the layer below
      var names = r.causes.names;
      var cum = [];
      var acc = new Float64Array(r.causes.x.length);
      r.causes.ys.forEach(function (y) {
        var a = new Float64Array(acc.length);
        for (var i = 0; i < a.length; i++) a[i] = acc[i] + (isNaN(y[i]) ? 0 : y[i]);
        cum.push(a);
        acc = a;
      });
      var ser = names.map(function (n, k) {
        // the legend shows the cause's own count, not the cumulative height it is drawn at
        return { label: n, color: P.causes[n] || "#999", fill: P.causes[n] || "#999", value: function (u, v, si, i) { return i === null || i === undefined ? "--" : fmtNum(r.causes.ys[k][i]); } };
      });
      // uPlot fills each series down to the axis: draw the largest first so the smaller stack shows above it
      var order = names.map(function (_, i) { return names.length - 1 - i; });
      chart(g2, { id: "waiting-causes", title: "Waiting requests by cause (stacked)", x: "s", y: "requests", group: "time", points: r.causes.points,
        series: order.map(function (i) { return ser[i]; }) }, [r.causes.x].concat(order.map(function (i) { return cum[i]; })));
    } else add(g2, el("p", "dim", "Waiting by cause over time needs the waiting rows of per_iteration_requests."));
  }
  // whether a rank has a series; without it, one line saying why (the report's *_missing), when the report gives one
  function present(series, what, why) {
    if (!series && why) add(rankBox, el("p", "dim", "No " + what + " in this run: " + why + "."));
    return !!series;
  }
  function gpuCharts(g2, r) {
    if (!present(r.gpu, "GPU stats", D.gpu_stats_missing)) return;
    // NVML samples joined to steps (per_iteration gpu_* columns): each step shows the latest sample at or before its end
    chart(g2, { id: "gpu-util", title: "GPU utilisation (%, NVML)", x: "s", y: "%", group: "time", points: points(r.gpu.use),
      series: [{ label: "GPU util", color: "#31a354" }] }, ds(r.gpu.use));
    chart(g2, { id: "gpu-memory", title: "GPU memory used (GiB)", x: "s", y: "GiB", group: "time", points: points(r.gpu.memory),
      series: [{ label: "memory used", color: "#636363" }] }, ds(r.gpu.memory));
    chart(g2, { id: "gpu-clock", title: "SM clock (MHz)", x: "s", y: "MHz", group: "time", points: points(r.gpu.clock),
      series: [{ label: "SM clock", color: "#6baed6" }] }, ds(r.gpu.clock));
    chart(g2, { id: "gpu-power", title: "GPU power (W)", x: "s", y: "W", group: "time", points: points(r.gpu.power),
      series: [{ label: "power", color: "#d94801" }] }, ds(r.gpu.power));
  }
  function engineCpuCharts(g2, r) {
    var c = r.engine_cpu;
    if (!present(c, "engine CPU stats", D.engine_cpu_missing)) return;
    // the trace's step.cpu over each step's interval: a wait for a CPU delays every step whose CPU part is on the critical path,
    // which neither the batch nor schedule() durations show
    shareChart(g2, "engine-cpu", "Engine thread on a CPU and waiting for one (% of the step's interval)", c.thread,
      [{ label: "on a CPU", color: "#3182bd" }, { label: "waiting for a CPU", color: "#e31a1c" }],
      "Each step: the time since the previous step started (Linux schedstat of the engine-core thread); waiting = runnable while other tasks held its cores.");
    if (c.pressure) {
      shareChart(g2, "cpu-pressure", "Machine CPU pressure (% of the step's interval, PSI some)", c.pressure, [{ label: "some task waiting", color: "#fd8d3c" }]);
    } else add(rankBox, el("p", "dim", "No CPU pressure in this run: the steps' step.cpu has no PSI figure (a kernel without /proc/pressure/cpu)."));
  }
  function gpuTimeCharts(g2, r) {
    if (!present(r.gpu_time, "GPU time per step", D.gpu_time_missing)) return;
    // the trace's update.gpu (two CUDA events per step) over each step's update-to-update interval: a host-bound engine
    // leaves the GPU idle between steps, which neither NVML's utilisation nor the step's duration shows per step
    shareChart(g2, "gpu-time", "GPU busy with the step and idle before it (% of the step's interval)", r.gpu_time.shares,
      [{ label: "busy with the step", color: "#31a354" }, { label: "idle before the step", color: "#e31a1c" }],
      "Each step: the time since the previous step's update_from_output() entry (CUDA events on the model runner's stream); idle = the GPU waited for this step after the previous one's last work.");
  }
  // a time chart of per-step shares (%, the view-model's downsampled series) with an optional note under its title
  function shareChart(g2, id, title, d, series, note) {
    chart(g2, { id: id, title: title, x: "s", y: "%", group: "time", points: points(d), note: note, series: series }, ds(d));
  }
  var ts = section("timeseries", "Batches and time series");
  add(ts, el("p", "note", "Time-series charts are downsampled for display: the time (or batch) axis is cut into " + D.buckets + " buckets, one per pixel at full width, and each bucket keeps the minimum and maximum of every series, so one-step spikes keep their full height (stacked charts keep the steps where the total is smallest and largest). Each chart's data-points attribute holds the number of steps before downsampling, data-shown the points drawn. Drag on a time chart to zoom; all time charts follow; double-click resets."));
  if (R.length > 1) {
    var lab = add(ts, el("label", null, "data-parallel rank: "));
    var sel = add(lab, el("select"));
    sel.id = "rank-select";
    R.forEach(function (r, i) {
      var o = add(sel, el("option", null, "rank " + r.dp_rank + " (" + r.steps + " steps)"));
      o.value = String(i);
    });
    sel.addEventListener("change", function () { rankCharts(Number(sel.value)); });
  }
  rankBox = add(ts, el("div"));
  rankBox.id = "rank-charts";
  rankCharts(0);

  // ---- waiting share per cause -----------------------------------------------------------
  var ws = section("waiting", "Share of total waiting per cause");
  var wt = add(ws, el("table"));
  wt.id = "waiting-table";
  var wh = add(add(wt, el("thead")), el("tr"));
  ["cause", "share", "waiting", ""].forEach(function (h) { add(wh, el("th", null, h)); });
  var wb = add(wt, el("tbody"));
  S.waiting.by_cause.forEach(function (c, i) {
    var tr = add(wb, el("tr"));
    var name = add(tr, el("td"));
    var sw = add(name, el("span", null, "■ "));
    sw.style.color = P.causes[c.cause] || "#999";
    add(name, el("span", null, c.cause));
    add(add(tr, el("td")), figure("summary", "waiting.by_cause." + i + ".share", "pct"));
    add(add(tr, el("td")), figure("summary", "waiting.by_cause." + i + ".waiting_ns", "ns"));
    var bar = add(add(tr, el("td")), el("div"));
    bar.style.cssText = "height:10px;background:" + (P.causes[c.cause] || "#999") + ";width:" + Math.round((c.share || 0) * 300) + "px";
  });
  if (!S.waiting.by_cause.length) add(ws, el("p", "dim", "No request waited."));

  // ---- latency distributions ------------------------------------------------------------
  var ls = section("latency", "Latency distributions (completed requests)");
  var lg = add(ls, el("div", "grid2"));
  var SLO = S.goodput ? S.goodput.slo : {};
  var SLO_KEY = { ttft: "ttft_ns", tpot: "tpot_ns", e2e: "e2e_ns" };
  function pctMarkers(stats, sloNs) {
    var m = [
      { x: stats && stats.p50_ns !== null ? stats.p50_ns / 1e6 : null, label: "p50", color: "#555" },
      { x: stats && stats.p90_ns !== null ? stats.p90_ns / 1e6 : null, label: "p90", color: "#555" },
      { x: stats && stats.p99_ns !== null ? stats.p99_ns / 1e6 : null, label: "p99", color: "#555" },
    ];
    if (sloNs !== undefined) m.push({ x: sloNs / 1e6, label: "SLO", color: "#d62728", dash: [] });
    return m;
  }
  function distCharts(parent, id, title, dist, stats, sloNs, src) {
    if (!dist || !dist.count) {
      add(parent, el("p", "dim", title + ": no values"));
      return;
    }
    var mk = pctMarkers(stats, sloNs);
    var cdfx = Float64Array.from(dist.cdf_v, function (v) { return v / 1e6; });
    var u = chart(parent, { id: id + "-cdf", title: title + ": CDF (ms)" + (src ? "" : ""), x: "ms", y: "share", points: dist.count,
      series: [{ label: "share ≤ x", color: "#3182bd" }] }, [cdfx, dist.cdf_p], markers(mk));
    u.root.parentNode.setAttribute("data-markers", JSON.stringify(mk.map(function (m) { return m.label; })));
    var h = dist.histogram;
    var hx = Float64Array.from(h.edges.subarray(0, h.counts.length), function (v) { return v / 1e6; });
    chart(parent, { id: id + "-hist", title: title + ": histogram (ms)", x: "ms", y: "requests", points: h.total,
      series: [{ label: "count", color: "#3182bd", fill: "#3182bd55", paths: bars }] }, [hx, h.counts], markers(mk));
  }
  distCharts(lg, "ttft", "TTFT", D.distributions.ttft, S.latency.ttft, SLO[SLO_KEY.ttft]);
  distCharts(lg, "tpot", "TPOT", D.distributions.tpot, S.latency.tpot, SLO[SLO_KEY.tpot]);
  distCharts(lg, "queue", "Queue time", D.distributions.queue_time, S.latency.queue_time);
  distCharts(lg, "e2e", "E2E latency", D.distributions.e2e, S.latency.e2e, SLO[SLO_KEY.e2e]);
  add(ls, el("p", "note", "ITL is shown as the summary's percentiles (table above); its per-token samples are not embedded."));
  var sg = add(ls, el("div", "grid2"));
  function stepHist(id, title, dist) {
    var h = dist.histogram;
    if (!h.total) return add(sg, el("p", "dim", title + ": no steps"));
    chart(sg, { id: id, title: title, x: "ms", y: "steps", points: h.total,
      series: [{ label: "steps", color: "#e6550d", fill: "#e6550d55", paths: bars }] },
      [Float64Array.from(h.edges.subarray(0, h.counts.length), function (v) { return v / 1e6; }), h.counts]);
  }
  stepHist("schedule-hist", "Schedule-time histogram (ms)", D.distributions.schedule);
  stepHist("model-run-hist", "Model-run-time histogram (ms)", D.distributions.model_run);
  var sc = D.distributions.scatter;
  if (sc.kind === "points") {
    var ord = arr(sc.x).map(function (_, i) { return i; }).sort(function (a, b) { return sc.x[a] - sc.x[b]; });
    chart(sg, { id: "scatter", title: "Schedule vs model-run time per step (ms)", x: "schedule ms", y: "model run ms", points: sc.x.length,
      series: [{ label: "step", color: "#3182bd55", paths: dotsOnly.paths, points: { show: true, size: 3, fill: "#3182bd55" } }] },
      [Float64Array.from(ord, function (i) { return sc.x[i]; }), Float64Array.from(ord, function (i) { return sc.y[i]; })]);
  } else {
    var tot = 0;
    for (var q = 0; q < sc.counts.length; q++) tot += sc.counts[q];
    var maxC = Math.max.apply(null, arr(sc.counts));
    chart(sg, { id: "scatter", title: "Schedule vs model-run time per step: density (ms, log colour)", x: "schedule ms", y: "model run ms", points: tot,
      series: [{ label: "steps", color: "#3182bd" }] }, [[0, sc.x_max], [0, sc.y_max]], function (opts) {
      opts.series[1].paths = function () { return null; };
      opts.series[1].points = { show: false };
      opts.hooks.draw = [function (u) {
        var ctx = u.ctx;
        for (var j = 0; j < sc.ny; j++) for (var i = 0; i < sc.nx; i++) {
          var c = sc.counts[j * sc.nx + i];
          if (!c) continue;
          var x0 = u.valToPos((i / sc.nx) * sc.x_max, "x", true), x1 = u.valToPos(((i + 1) / sc.nx) * sc.x_max, "x", true);
          var y0 = u.valToPos((j / sc.ny) * sc.y_max, "y", true), y1 = u.valToPos(((j + 1) / sc.ny) * sc.y_max, "y", true);
          ctx.fillStyle = "rgba(49,130,189," + (0.15 + 0.85 * Math.log(1 + c) / Math.log(1 + maxC)).toFixed(3) + ")";
          ctx.fillRect(x0, y1, Math.max(1, x1 - x0), Math.max(1, y0 - y1));
        }
      }];
    });
  }

  // ---- requests: table and lanes ---------------------------------------------------------
  var Q = D.requests;
  var L = D.lanes;
  var n = Q.ids.length;
  var segsOf = new Map();
  for (var s = 0; s < L.seg_request.length; s++) {
    var r0 = L.seg_request[s];
    if (!segsOf.has(r0)) segsOf.set(r0, []);
    segsOf.get(r0).push(s);
  }
  var queueOf = new Map();
  for (var k = 0; k < L.queue_request.length; k++) {
    var r1 = L.queue_request[k];
    if (!queueOf.has(r1)) queueOf.set(r1, []);
    queueOf.get(r1).push(k);
  }
  var compactedRows = new Set(arr(L.compacted_rows));
  function laneColor(code) {
    var name = L.codes[code];
    return STATE[name] || P.causes[name] || "#999";
  }
  var runEnd = 0;
  R.forEach(function (r) { var t = r.queues.x[r.queues.x.length - 1]; if (t > runEnd) runEnd = t; });

  var fs = section("fairness", "Fairness: longest waits, queue positions, service rate");
  var laneSection;
  function selectRequest(i) {
    laneSection.textContent = "";
    groups.time = groups.time.filter(function (u) { return !laneSection.contains(u.root); });
    document.querySelectorAll("#requests-table tbody tr.sel").forEach(function (tr) { tr.classList.remove("sel"); });
    var tr = document.querySelector('#requests-table tbody tr[data-row="' + i + '"]');
    if (tr) tr.classList.add("sel");
    add(laneSection, el("h3", null, "Request"));
    var idBox = add(laneSection, el("div", "lane-id", Q.ids[i]));
    idBox.id = "lane-id";
    add(laneSection, el("div", "dim", "rank " + Q.dp_rank[i] + " · arrived " + fmtNs(Q.arrival_ns[i]) + " · TTFT " + fmtNs(Q.ttft_ns[i]) + " · E2E " + fmtNs(Q.e2e_ns[i]) +
      " · waited " + fmtNs(Q.waiting_ns[i]) + " · " + Q.preemptions[i] + " preemptions · " + Q.finish_reasons[Q.finish_reason[i]]));
    var segs = segsOf.get(i) || [];
    var qs = queueOf.get(i) || [];
    var qx = Float64Array.from(qs, function (k) { return L.queue_t_s[k]; });
    var qy = Float64Array.from(qs, function (k) { return L.queue_position[k]; });
    var used = {};
    segs.forEach(function (s) { used[L.seg_code[s]] = true; });
    var legend = add(laneSection, el("div", "legendbox"));
    Object.keys(used).forEach(function (c) {
      var sp = add(legend, el("span", null, L.codes[c]));
      sp.style.setProperty("--c", laneColor(Number(c)));
    });
    var x = [0].concat(arr(qx)).concat([runEnd]);
    var y = [null].concat(arr(qy)).concat([null]);
    var u = chart(laneSection, { id: "lane", title: "State history and queue position (0 = head of the waiting queue)", x: "s", y: "queue position", group: "time", height: 200,
      points: qs.length, series: [{ label: "queue position", color: "#222", paths: uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined, points: { show: true, size: 4 } }] },
      [x, y], function (opts) {
        opts.scales.y = { range: function (u, lo, hi) { return [0, Math.max(1, hi || 0) * 1.1]; } };
        opts.hooks.drawClear = [function (u) {
          var ctx = u.ctx;
          var h = 18 * devicePixelRatio;
          segs.forEach(function (s) {
            var a = u.valToPos(L.seg_start_s[s], "x", true);
            var b = u.valToPos(L.seg_end_s[s], "x", true);
            ctx.fillStyle = laneColor(L.seg_code[s]);
            ctx.fillRect(a, u.bbox.top + u.bbox.height - h, Math.max(1, b - a), h);
          });
        }];
      });
    var box = u.root.parentNode;
    box.setAttribute("data-request-row", String(i));
    box.setAttribute("data-segments", String(segs.length));
    box.setAttribute("data-segment-codes", JSON.stringify(segs.map(function (s) { return L.codes[L.seg_code[s]]; })));
    box.setAttribute("data-queue-points", String(qs.length));
    box.setAttribute("data-compacted", String(compactedRows.has(i)));
    var cur = groups.time.filter(function (o) { return o !== u; })[0];
    if (cur) u.setScale("x", { min: cur.scales.x.min, max: cur.scales.x.max });
  }

  var lw = add(fs, el("table"));
  lw.id = "longest-waits";
  var lwh = add(add(lw, el("thead")), el("tr"));
  ["request (click for its lane)", "longest continuous wait", ""].forEach(function (h) { add(lwh, el("th", null, h)); });
  var lwb = add(lw, el("tbody"));
  var maxW = D.fairness.longest_waits.length ? D.fairness.longest_waits[0].wait_ns : 1;
  D.fairness.longest_waits.forEach(function (w) {
    var tr = add(lwb, el("tr"));
    tr.style.cursor = "pointer";
    add(tr, el("td", "id", shortId(Q.ids[w.request], 60)));
    add(tr, el("td", null, fmtNs(w.wait_ns)));
    var bar = add(add(tr, el("td")), el("div"));
    bar.style.cssText = "height:10px;background:#fd8d3c;width:" + Math.round((w.wait_ns / maxW) * 300) + "px";
    tr.addEventListener("click", function () { selectRequest(w.request); laneSection.scrollIntoView(); });
  });
  var fc = add(fs, el("div", "fig-line"));
  add(fc, el("span", null, "Longest continuous wait p99: "));
  add(fc, figure("summary", "fairness.longest_wait_p99_ns", "ns"));
  add(fc, el("span", null, " · service-rate Jain index: "));
  add(fc, figure("summary", "fairness.service_rate_jain_index", "f3"));
  add(fc, el("span", null, " · mean service rate: "));
  add(fc, figure("summary", "fairness.service_rate_mean_tokens_per_s", "num"));
  add(fc, el("span", null, " tokens/s"));
  if (S.fairness.queue_progress) {
    add(fc, el("span", null, " · queue observations overtaken: "));
    add(fc, figure("summary", "fairness.queue_progress.overtaken_share", "pct"));
  }
  var fg = add(fs, el("div", "grid2"));
  var tr0 = D.fairness.trajectories.filter(function (i) { return queueOf.has(i); });
  if (tr0.length) {
    // one x axis: the union of the trajectories' times, each series null where it has no point
    var times = [];
    tr0.forEach(function (i) { queueOf.get(i).forEach(function (k) { times.push(L.queue_t_s[k]); }); });
    times = Array.from(new Set(times)).sort(function (a, b) { return a - b; });
    var at = new Map(times.map(function (t, j) { return [t, j]; }));
    var tot2 = 0;
    var ys = tr0.map(function (i) {
      var y = new Array(times.length).fill(null);
      queueOf.get(i).forEach(function (k) { y[at.get(L.queue_t_s[k])] = L.queue_position[k]; tot2++; });
      return y;
    });
    var hues = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
    chart(fg, { id: "trajectories", title: "Queue position of the longest waiters", x: "s", y: "queue position", group: "time", points: tot2,
      series: tr0.map(function (i, j) { return { label: shortId(Q.ids[i], 24), color: hues[j % hues.length], spanGaps: true, points: { show: true, size: 3 } }; }) },
      [times].concat(ys));
  } else add(fg, el("p", "dim", "No queue positions recorded (no request waited with a position)."));
  var srh = D.fairness.service_rate;
  if (srh.total) {
    chart(fg, { id: "service-rate", title: "Service rate per completed request (output tokens / s of E2E)", x: "tokens/s", y: "requests", points: srh.total,
      series: [{ label: "requests", color: "#31a354", fill: "#31a35455", paths: bars }] }, [srh.edges.subarray(0, srh.counts.length), srh.counts]);
  }

  // ---- predictions ------------------------------------------------------------------------
  if (D.predictions && S.policy) {
    var ps = section("predictions", "Policy predictions");
    var pl = add(ps, el("div", "fig-line"));
    add(pl, el("span", null, "predicted_remaining_tokens vs output tokens, Kendall τ: "));
    add(pl, figure("summary", "policy.predicted_remaining_tokens.kendall_tau", "f3"));
    add(pl, el("span", null, " · mean abs error: "));
    add(pl, figure("summary", "policy.predicted_remaining_tokens.mean_abs_error_tokens", "num"));
    add(pl, el("span", null, " tokens · RMSE: "));
    add(pl, figure("summary", "policy.predicted_remaining_tokens.rmse_tokens", "num"));
    var P2 = D.predictions;
    var po = arr(P2.predicted).map(function (_, i) { return i; }).sort(function (a, b) { return P2.predicted[a] - P2.predicted[b]; });
    chart(ps, { id: "predictions", title: "Predicted remaining tokens vs actual output tokens", x: "predicted", y: "actual", points: P2.predicted.length,
      series: [{ label: "request", color: "#756bb1", paths: dotsOnly.paths, points: { show: true, size: 4 } }] },
      [Float64Array.from(po, function (i) { return P2.predicted[i]; }), Float64Array.from(po, function (i) { return P2.actual[i]; })]);
  }
  if (S.policy && S.policy.priority_score) {
    var pss = document.getElementById("predictions") || section("predictions", "Policy predictions");
    var pq = add(pss, el("div", "fig-line"));
    add(pq, el("span", null, "priority_score vs output tokens, Kendall τ: "));
    add(pq, figure("summary", "policy.priority_score.kendall_tau", "f3"));
  }

  // ---- the request table -------------------------------------------------------------------
  var rs = section("requests", "Requests");
  add(rs, el("p", "note", Q.selection === "all" ? "All " + fmtNum(Q.total) + " requests. Click a column to sort, a row to see its lane." :
    fmtNum(n) + " of " + fmtNum(Q.total) + " requests (longest waits, slowest E2E and TTFT, most preempted). Click a column to sort, a row to see its lane."));
  var filter = add(rs, el("input"));
  filter.id = "request-filter";
  filter.placeholder = "filter by id";
  var COLS = [
    { k: "id", label: "request id", v: function (i) { return Q.ids[i]; }, f: function (i) { return shortId(Q.ids[i]); } },
    { k: "rank", label: "rank", v: function (i) { return Q.dp_rank[i]; } },
    { k: "arrival", label: "arrival", v: function (i) { return Q.arrival_ns[i]; }, f: function (i) { return fmtNs(Q.arrival_ns[i]); } },
    { k: "ttft", label: "TTFT", v: function (i) { return Q.ttft_ns[i]; }, f: function (i) { return fmtNs(Q.ttft_ns[i]); } },
    { k: "e2e", label: "E2E", v: function (i) { return Q.e2e_ns[i]; }, f: function (i) { return fmtNs(Q.e2e_ns[i]); } },
    { k: "waiting", label: "waiting", v: function (i) { return Q.waiting_ns[i]; }, f: function (i) { return fmtNs(Q.waiting_ns[i]); } },
    { k: "preemptions", label: "preemptions", v: function (i) { return Q.preemptions[i]; } },
    { k: "cause", label: "dominant waiting cause", v: function (i) { return Q.dominant_cause[i] < 0 ? "" : Q.causes[Q.dominant_cause[i]]; } },
    { k: "finish", label: "finish", v: function (i) { return Q.finish_reasons[Q.finish_reason[i]]; } },
  ];
  if (R.length < 2) COLS.splice(1, 1);
  var rt = add(rs, el("table"));
  rt.id = "requests-table";
  var rth = add(add(rt, el("thead")), el("tr"));
  var rtb = add(rt, el("tbody"));
  var pager = add(rs, el("div", "pager"));
  var PAGE = 50;
  var view = { order: [], sortKey: "arrival", asc: true, page: 0 };
  COLS.forEach(function (c) {
    var th = add(rth, el("th", null, c.label));
    th.setAttribute("data-col", c.k);
    th.addEventListener("click", function () {
      view.asc = view.sortKey === c.k ? !view.asc : c.k === "id" || c.k === "arrival";
      view.sortKey = c.k;
      view.page = 0;
      refresh();
    });
  });
  function cmp(a, b) {
    if (a === b) return 0;
    if (typeof a === "number" && isNaN(a)) return 1;
    if (typeof b === "number" && isNaN(b)) return -1;
    return a < b ? -1 : 1;
  }
  function refresh() {
    var col = COLS.filter(function (c) { return c.k === view.sortKey; })[0];
    var needle = filter.value;
    var order = [];
    for (var i = 0; i < n; i++) if (!needle || Q.ids[i].indexOf(needle) !== -1) order.push(i);
    order.sort(function (a, b) {
      var va = col.v(a), vb = col.v(b);
      var nanA = typeof va === "number" && isNaN(va), nanB = typeof vb === "number" && isNaN(vb);
      if (nanA || nanB) return nanA && nanB ? a - b : nanA ? 1 : -1;
      return (view.asc ? cmp(va, vb) : cmp(vb, va)) || a - b;
    });
    view.order = order;
    rth.querySelectorAll("th").forEach(function (th) {
      th.className = th.getAttribute("data-col") === view.sortKey ? "sorted" + (view.asc ? " asc" : "") : "";
    });
    rtb.textContent = "";
    order.slice(view.page * PAGE, (view.page + 1) * PAGE).forEach(function (i) {
      var tr = add(rtb, el("tr"));
      tr.setAttribute("data-row", String(i));
      COLS.forEach(function (c) {
        var td = add(tr, el("td", c.k === "id" ? "id" : null, c.f ? c.f(i) : c.v(i)));
        if (c.k === "id") td.title = Q.ids[i].slice(0, 2000);
      });
      tr.addEventListener("click", function () { selectRequest(i); });
    });
    pager.textContent = "";
    var pages = Math.max(1, Math.ceil(order.length / PAGE));
    var prev = add(pager, el("button", null, "‹ previous"));
    prev.disabled = view.page === 0;
    prev.addEventListener("click", function () { view.page--; refresh(); });
    add(pager, el("span", "dim", "page " + (view.page + 1) + " of " + pages + " · " + order.length + " rows"));
    var next = add(pager, el("button", null, "next ›"));
    next.disabled = view.page >= pages - 1;
    next.addEventListener("click", function () { view.page++; refresh(); });
  }
  filter.addEventListener("input", function () { view.page = 0; refresh(); });
  refresh();
  add(rs, el("p", "note", "Lanes: a request's states and waiting causes per step, drawn on the run's time axis; a lane of more than " + L.max_segments +
    " segments (causes alternating step by step) is redrawn at " + L.max_segments + " equal spans of the request's life, each showing the state that covers most of it (" +
    fmtNum(L.compacted_requests) + " requests). Queue positions are kept when they move by a third or more of the last kept one (every change below 3), and the last one before admission."));
  laneSection = add(rs, el("div"));
  laneSection.id = "lane";
  add(laneSection, el("p", "dim", "Choose a request above to see its lane."));

  // ---- resize and ready ----------------------------------------------------------------------
  window.addEventListener("resize", function () {
    charts.forEach(function (u) {
      if (!u.root.isConnected) return;
      var box = u.root.parentNode;
      var parent = box.parentNode;
      u.setSize({ width: width(parent.classList.contains("grid2") ? box : parent), height: u.height });
    });
  });
  // read-only handles for tests and the curious (the console): the uPlot instances by zoom group
  window.vschedReport = { charts: charts, groups: groups };
  requestAnimationFrame(function () {
    // ms since navigation start when every chart is drawn; data-build-ms: this script's own share
    document.body.setAttribute("data-build-ms", String(Math.round(performance.now() - started)));
    document.body.setAttribute("data-ready", String(Math.round(performance.now())));
  });
})();
