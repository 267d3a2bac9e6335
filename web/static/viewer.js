/* viewer.js: the llmaj results viewer. Plain JavaScript, no framework, no build step.
 *
 * Two data sources behind one interface (jobs, job, summary, results):
 *   - embedded: the page carries a script element of type application/json, id "llmaj-data",
 *     holding {"job", "summary", "records", "records_total"} (`llmaj report JOB --html FILE`);
 *   - the REST control plane of `llmaj-scheduler --serve` (GET /v1/jobs, /v1/jobs/{id},
 *     /v1/jobs/{id}/summary, /v1/jobs/{id}/results?offset&limit), with
 *     `Authorization: Bearer <token>` when a token is known (typed into the page after a 401, or
 *     given once as #token=... in the address; kept in sessionStorage for this tab only).
 * Pages: "/" lists the jobs, "/jobs/{id}" shows one job (the embedded page shows its job).
 *
 * Everything from a job (prompts, responses, explanations, names) is untrusted: it only ever
 * becomes text nodes (textContent), never markup. Figures carry data-k / data-value attributes
 * with the exact numbers so tests can compare them with summary.json. */
(function () {
  "use strict";
  var charts = window.LLMAJ.charts;
  var PAGE = 500;            /* rows per results request */
  var AUTO_ROWS = 5000;      /* rows loaded without asking */
  var LIST_PAGE = 50;        /* records per page of the browser */
  var TOKEN_KEY = "llmaj.token";

  /* ---- DOM helpers ---- */

  function h(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] === undefined || attrs[k] === null) continue;
        if (k === "class") e.className = attrs[k];
        else if (k === "style") e.style.cssText = attrs[k];   /* CSSOM: allowed by the pages' CSP */
        else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
        else e.setAttribute(k, String(attrs[k]));
      }
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }

  function add(parent, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(parent, k); }); return; }
    parent.appendChild(typeof kid === "object" ? kid : document.createTextNode(String(kid)));
  }

  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

  function isNum(v) { return typeof v === "number" && isFinite(v); }
  /* v with d decimals, rounded as C's printf and Python's format round it (so the page shows
   * what `llmaj report` and the SDK show): to the nearest, and a value exactly halfway to the
   * even digit. toFixed rounds from the exact value too, but a tie away from zero: 0.0625 would
   * show 0.063 here and 0.062 there. A tie has exactly d+1 decimals, the last a 5, so it shows in
   * the exact expansion (toFixed with 40 more digits) as a 5 and then zeros. */
  var TIE_TAIL = "5" + new Array(40).join("0");
  function fixed(v, d) {
    var e = Math.abs(v).toFixed(d + 40);
    if (e.slice(-40) !== TIE_TAIL) return v.toFixed(d);
    var down = e.slice(0, e.length - 40).replace(/\.$/, "");   /* the digits kept, truncated */
    if (+down.slice(-1) % 2 === 1) return v.toFixed(d);          /* odd: away from zero, as toFixed */
    return (v < 0 ? "-" : "") + down;
  }
  function f3(v) { return isNum(v) ? fixed(v, 3) : "\u2013"; }
  function sgn3(v) { return isNum(v) ? (Math.abs(v) < 0.0005 ? "+0.000" : (v > 0 ? "+" : "") + fixed(v, 3)) : "\u2013"; }
  function pct(v) { return isNum(v) ? fixed(v * 100, 1) + "%" : "\u2013"; }
  function ci(c, signed) {
    if (!c || !isNum(c[0]) || !isNum(c[1])) return "\u2013";
    var f = signed ? sgn3 : f3;
    return "[" + f(c[0]) + ", " + f(c[1]) + "]";
  }
  function count(v) { return isNum(v) ? String(v) : "\u2013"; }

  /* A table cell holding one figure: its text rounded, its exact value in data-value. */
  function fig(key, value, text, cls) {
    return h("td", { class: cls || "num", "data-k": key, "data-value": value === null || value === undefined ? "null" : String(value) },
      text);
  }

  function badge(status) { return h("span", { class: "badge " + status, "data-k": "status" }, status); }

  function when(iso) {
    if (!iso) return "\u2013";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function keys(o) { return o && typeof o === "object" ? Object.keys(o) : []; }

  /* ---- data sources ---- */

  function ApiError(status, message, errors) {
    this.status = status;
    this.message = message;
    this.errors = errors || [];
  }

  function embedded() {
    var e = document.getElementById("llmaj-data");
    if (!e) return null;
    return JSON.parse(e.textContent);
  }

  function EmbeddedSource(d) {
    this.d = d;
    this.offline = true;
  }
  EmbeddedSource.prototype.jobs = function () { return Promise.resolve([this.d.job]); };
  EmbeddedSource.prototype.job = function () { return Promise.resolve(this.d.job); };
  EmbeddedSource.prototype.summary = function () { return Promise.resolve(this.d.summary || null); };
  EmbeddedSource.prototype.results = function (id, offset, limit) {
    var rs = this.d.records || [];
    return Promise.resolve({ total: rs.length, records: rs.slice(offset, offset + limit) });
  };
  EmbeddedSource.prototype.rowsTotal = function () {
    return isNum(this.d.records_total) ? this.d.records_total : (this.d.records || []).length;
  };

  function ApiSource(base) {
    this.base = base || "";
    this.offline = false;
  }
  ApiSource.prototype.get = function (path) {
    var headers = { Accept: "application/json" };
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(this.base + path, { headers: headers, credentials: "same-origin" }).then(function (r) {
      return r.text().then(function (body) {
        var j = null;
        try { j = body ? JSON.parse(body) : null; } catch (e) { j = null; }
        if (r.ok) return j;
        var errs = j && Array.isArray(j.errors) ? j.errors : [];
        var msg = errs.length ? errs.map(function (e) { return (e.key ? e.key + ": " : "") + e.message; }).join("; ")
                              : "HTTP " + r.status + " for " + path;
        throw new ApiError(r.status, msg, errs);
      });
    });
  };
  ApiSource.prototype.jobs = function () { return this.get("/v1/jobs").then(function (j) { return j.jobs || []; }); };
  ApiSource.prototype.job = function (id) { return this.get("/v1/jobs/" + encodeURIComponent(id)); };
  ApiSource.prototype.summary = function (id) {
    return this.get("/v1/jobs/" + encodeURIComponent(id) + "/summary").catch(function (e) {
      if (e instanceof ApiError && e.status === 404) return null;   /* not written yet */
      throw e;
    });
  };
  ApiSource.prototype.results = function (id, offset, limit) {
    return this.get("/v1/jobs/" + encodeURIComponent(id) + "/results?offset=" + offset + "&limit=" + limit);
  };

  /* ---- errors and the token form ---- */

  function showError(app, e, retry) {
    clear(app);
    if (e instanceof ApiError && e.status === 401) {
      var input = h("input", { type: "password", name: "token", autocomplete: "off", placeholder: "the service's token" });
      var form = h("form", { class: "token-form", onsubmit: function (ev) {
        ev.preventDefault();
        if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        retry();
      } }, h("label", null, "Token "), input, h("button", { type: "submit" }, "Sign in"));
      add(app, [h("h1", null, "This service needs a token"),
        h("p", { class: "muted" }, "Give the token the service was started with (--token-file or LLMAJ_TOKEN). It is kept for this tab only."),
        form]);
      input.focus();
      return;
    }
    add(app, h("div", { class: "error-box", "data-k": "error" }, e && e.message ? e.message : String(e)));
  }

  /* ---- the job list ---- */

  function jobRow(j) {
    var p = j.progress || {};
    var frac = p.units_total ? p.units_done / p.units_total : (j.status === "succeeded" ? 1 : 0);
    return h("tr", { "data-job": j.job_id },
      h("td", null, h("a", { href: "/jobs/" + encodeURIComponent(j.job_id) }, j.job_id)),
      h("td", null, j.name || ""),
      h("td", null, badge(j.status)),
      h("td", null, h("span", { class: "progress", title: pct(frac) }, h("span", { style: "width:" + (frac * 100).toFixed(1) + "%" })),
        " ", h("span", { class: "small muted" }, count(p.units_done) + "/" + count(p.units_total))),
      h("td", null, when(j.created_at)),
      h("td", null, when(j.ended_at)));
  }

  function renderList(app, src) {
    function load() {
      return src.jobs().then(function (jobs) {
        clear(app);
        add(app, h("h1", null, "Jobs"));
        if (!jobs.length) { add(app, h("p", { class: "muted" }, "No job yet. Submit one with `llmaj evaluate --spec FILE` or the Python SDK.")); return; }
        add(app, h("table", { id: "jobs" },
          h("thead", null, h("tr", null, ["job", "name", "status", "progress", "created", "ended"].map(function (c) { return h("th", null, c); }))),
          h("tbody", null, jobs.map(jobRow))));
        var live = jobs.some(function (j) { return j.status === "queued" || j.status === "running" || j.status === "stopping"; });
        if (live) setTimeout(function () { load().catch(function () {}); }, 5000);
      });
    }
    return load().catch(function (e) { showError(app, e, function () { renderList(app, src); }); });
  }

  /* ---- one job ---- */

  function modelsOf(job, summary) {
    var t = (summary && summary.targets) || {};
    return {
      custom: (t.custom && t.custom.model) || job.model || null,
      base: t.base ? (t.base.model || job.base_model || null) : null,
      judge: job.evaluator_model || null,
    };
  }

  function header(job, summary, src) {
    var m = modelsOf(job, summary), p = job.progress || {};
    var facts = h("dl", { class: "facts" });
    function fact(k, v, key) { if (v !== null && v !== undefined && v !== "") add(facts, [h("dt", null, k), h("dd", { "data-k": key }, v)]); }
    fact("status", badge(job.status), null);
    fact("model", m.custom, "model");
    fact("base model", m.base, "base_model");
    fact("judge", m.judge, "evaluator_model");
    if (summary && summary.records) fact("records", summary.records.total + (summary.records.invalid_skipped ? " (" + summary.records.invalid_skipped + " invalid skipped)" : ""), "records");
    if (isNum(p.units_total)) fact("record-targets", p.units_done + " / " + p.units_total + " done", "units");
    fact("created", when(job.created_at));
    fact("started", when(job.started_at));
    fact("ended", when(job.ended_at));
    fact("output", job.output, "output");
    if (job.error) fact("error", job.error, "job_error");
    var title = job.name ? job.name + " \u00b7 " + job.job_id : job.job_id;
    var out = [h("h1", { "data-k": "job_id" }, title), facts];
    if (job.status === "running" || job.status === "queued" || job.status === "stopping") {
      var frac = p.units_total ? p.units_done / p.units_total : 0;
      out.push(h("p", null, h("span", { class: "progress" }, h("span", { style: "width:" + (frac * 100).toFixed(1) + "%" })),
        " " + pct(frac) + " \u00b7 the page refreshes while the job runs"));
    }
    if (summary && summary.partial)
      out.push(h("p", { class: "note", "data-k": "partial" }, "Partial: the job ended " + (summary.status || job.status) +
        " before every record was judged; the figures cover the results it committed" +
        (isNum(p.units_total) ? " (" + p.units_done + " of " + p.units_total + " record-targets)" : "") + "."));
    if (src.offline) out.push(h("p", { class: "note" }, "A saved report: the figures are those of the job when the report was written."));
    return out;
  }

  function metricNames(summary) {
    var t = summary.targets || {};
    return keys((t.custom || t.base || {}).metrics);
  }

  function lowerMark(m) {
    return m && m.lower_is_better ? h("span", { class: "badge lower", title: "a lower rating is better" }, "lower is better") : null;
  }

  function metricTable(summary) {
    var t = summary.targets || {}, targets = ["custom", "base"].filter(function (k) { return t[k]; });
    var head = [h("th", null, "metric")];
    targets.forEach(function (k) {
      head.push(h("th", { class: "num" }, h("span", { class: "swatch " + k }), " " + k + " mean"), h("th", { class: "num" }, "95% CI"),
        h("th", { class: "num" }, "n"), h("th", { class: "num", title: "unscored \u00b7 not applicable \u00b7 errors" }, "unsc \u00b7 n/a \u00b7 err"));
    });
    head.push(h("th", null, "means and 95% intervals (normalized, 0\u20131)"));
    var rows = metricNames(summary).map(function (name) {
      var tr = h("tr", { "data-metric": name }, h("td", null, name, " ", lowerMark((t.custom || t.base).metrics[name])));
      var series = [];
      targets.forEach(function (k) {
        var m = t[k].metrics[name] || {};
        add(tr, [fig(k + ".mean", m.mean, f3(m.mean)),
          h("td", { class: "num", "data-k": k + ".ci95", "data-value": JSON.stringify(m.ci95 === undefined ? null : m.ci95) }, ci(m.ci95)),
          fig(k + ".n", m.n, count(m.n)),
          h("td", { class: "num small muted" }, count(m.n_unscored) + " \u00b7 " + count(m.n_not_applicable) + " \u00b7 " + count(m.n_error))]);
        series.push({ cls: k, mean: m.mean, ci: m.ci95, label: k + " " + name + ": " + f3(m.mean) + " " + ci(m.ci95) });
      });
      add(tr, h("td", null, series.some(function (s) { return isNum(s.mean); }) ? charts.intervals(series, { label: name })
        : h("span", { class: "small muted" }, "no mean (string scale or no score)")));
      return tr;
    });
    return h("table", { id: "metrics" }, h("thead", null, h("tr", null, head)), h("tbody", null, rows));
  }

  function comparisonTable(summary) {
    var cmp = summary.comparison || {};
    var rows = keys(cmp).map(function (name) {
      var c = cmp[name];
      return h("tr", { "data-metric": name },
        h("td", null, name, " ", lowerMark(c)),
        fig("mean_diff", c.mean_diff, sgn3(c.mean_diff)),
        h("td", { class: "num", "data-k": "ci95", "data-value": JSON.stringify(c.ci95 === undefined ? null : c.ci95) }, ci(c.ci95, true)),
        h("td", null, isNum(c.mean_diff) ? charts.intervals([{ cls: "custom", mean: c.mean_diff, ci: c.ci95, label: "mean difference " + sgn3(c.mean_diff) }], { min: -1, max: 1, label: name }) : ""),
        h("td", null, charts.wtl(c.wins || 0, c.ties || 0, c.losses || 0, { label: name + ": wins, ties, losses" })),
        fig("wins", c.wins, count(c.wins)), fig("ties", c.ties, count(c.ties)), fig("losses", c.losses, count(c.losses)),
        fig("win_rate", c.win_rate, pct(c.win_rate)), fig("n", c.n, count(c.n)));
    });
    return [h("p", { class: "small muted" },
      "Per record where both models were scored: difference of normalized scores, custom \u2212 base, flipped for metrics where lower is better, so a positive difference and a win always mean the custom model did better."),
      h("div", null, h("span", { class: "key" }, h("span", { class: "swatch win" }), "wins"), h("span", { class: "key" }, h("span", { class: "swatch tie" }), "ties"),
        h("span", { class: "key" }, h("span", { class: "swatch loss" }), "losses")),
      h("table", { id: "comparison" }, h("thead", null, h("tr", null, ["metric", "mean diff", "95% CI", "difference (\u22121 to 1)", "wins \u00b7 ties \u00b7 losses", "wins", "ties", "losses", "win rate", "n"].map(function (c, i) {
        return h("th", { class: i === 0 || i === 3 || i === 4 ? null : "num" }, c);
      }))), h("tbody", null, rows))];
  }

  function categoryTable(summary) {
    var t = summary.targets || {}, cats = {};
    ["custom", "base"].forEach(function (k) { keys(t[k] && t[k].categories).forEach(function (c) { cats[c] = true; }); });
    var names = Object.keys(cats).sort();
    if (!names.length) return h("p", { class: "muted" }, "No record of this job has a category.");
    var metrics = metricNames(summary);
    var head = h("tr", null, h("th", null, "category"), metrics.map(function (m) { return h("th", { class: "num" }, m); }));
    var rows = names.map(function (c) {
      return h("tr", { "data-category": c }, h("td", null, c), metrics.map(function (m) {
        var td = h("td", { class: "num", "data-metric": m });
        ["custom", "base"].forEach(function (k) {
          var cm = t[k] && t[k].categories && t[k].categories[c] && t[k].categories[c][m];
          if (!t[k]) return;
          add(td, h("div", { "data-k": k + ".mean", "data-value": cm ? String(cm.mean) : "null", title: k + " mean, n" },
            h("span", { class: "swatch " + k }), " " + (cm ? f3(cm.mean) : "\u2013") + " ", h("span", { class: "small muted" }, "n=" + (cm ? cm.n : 0))));
        });
        return td;
      }));
    });
    return h("table", { id: "categories" }, h("thead", null, head), h("tbody", null, rows));
  }

  function histograms(summary) {
    var t = summary.targets || {}, targets = ["custom", "base"].filter(function (k) { return t[k]; });
    return h("div", { class: "hists", id: "histograms" }, metricNames(summary).map(function (name) {
      var ratings = keys((t.custom || t.base).metrics[name].ratings);
      var series = targets.map(function (k) {
        var r = (t[k].metrics[name] || {}).ratings || {};
        return { cls: k, counts: ratings.map(function (x) { return r[x] || 0; }) };
      });
      var box = h("div", { class: "hist", "data-metric": name }, h("h3", null, name, " ", lowerMark((t.custom || t.base).metrics[name])),
        charts.histogram(ratings, series, { label: name + " ratings" }));
      series.forEach(function (s) {
        add(box, h("div", { class: "small muted", "data-k": s.cls + ".ratings", "data-value": JSON.stringify(s.counts) },
          s.cls + ": " + ratings.map(function (r, i) { return r + " " + s.counts[i]; }).join(", ")));
      });
      return box;
    }));
  }

  /* ---- the record browser ---- */

  function Browser(src, id, summary, box) {
    this.src = src;
    this.id = id;
    this.summary = summary;
    this.box = box;
    this.rows = [];
    this.total = 0;
    this.loading = false;
    this.groups = [];
    this.byIndex = {};
    this.page = 0;
    this.open = null;
    this.f = { metric: "", rating: "", status: "", category: "", target: "", q: "" };
  }

  Browser.prototype.metrics = function () {
    var names = this.summary ? metricNames(this.summary) : [];
    if (!names.length && this.rows.length) names = keys(this.rows[0].scores);
    return names;
  };

  Browser.prototype.ratingsOf = function (metric) {
    var t = this.summary && this.summary.targets, m = t && (t.custom || t.base) && (t.custom || t.base).metrics[metric];
    if (m && m.ratings) return keys(m.ratings);
    var seen = {};
    this.rows.forEach(function (r) { var s = r.scores && r.scores[metric]; if (s && s.rating) seen[s.rating] = true; });
    return Object.keys(seen);
  };

  Browser.prototype.addRows = function (rows) {
    var self = this;
    rows.forEach(function (r) {
      self.rows.push(r);
      var g = self.byIndex[r.record_index];
      if (!g) {
        g = { index: r.record_index, id: r.record_id, prompt: r.prompt, category: r.category, reference: r.reference, t: {} };
        self.byIndex[r.record_index] = g;
        self.groups.push(g);
      }
      g.t[r.target] = r;
    });
  };

  /* Loads the next `want` rows (pages of PAGE). */
  Browser.prototype.load = function (want) {
    var self = this;
    if (this.loading) return Promise.resolve();
    this.loading = true;
    var target = this.rows.length + want;
    function next() {
      var limit = Math.min(PAGE, target - self.rows.length);
      if (limit <= 0) return Promise.resolve();
      return self.src.results(self.id, self.rows.length, limit).then(function (page) {
        self.total = page.total || 0;
        self.addRows(page.records || []);
        if ((page.records || []).length === 0 || self.rows.length >= self.total) return;
        return next();
      });
    }
    return next().then(function () { self.loading = false; self.render(); }, function (e) { self.loading = false; throw e; });
  };

  Browser.prototype.matches = function (g) {
    var f = this.f;
    if (f.category && (g.category || "") !== f.category) return false;
    if (f.q) {
      var q = f.q.toLowerCase();
      if ((g.prompt || "").toLowerCase().indexOf(q) < 0 && String(g.id).toLowerCase().indexOf(q) < 0) return false;
    }
    if (!f.metric && !f.rating && !f.status) return true;
    var metrics = f.metric ? [f.metric] : this.metrics();
    var targets = f.target ? [f.target] : ["custom", "base"];
    return targets.some(function (t) {
      var r = g.t[t];
      if (!r || !r.scores) return false;
      return metrics.some(function (m) {
        var s = r.scores[m];
        if (!s) return false;
        if (f.rating && s.rating !== f.rating) return false;
        if (f.status && s.status !== f.status) return false;
        return true;
      });
    });
  };

  Browser.prototype.filters = function () {
    var self = this, f = this.f, metrics = this.metrics();
    var cats = {};
    this.groups.forEach(function (g) { if (g.category) cats[g.category] = true; });
    if (this.summary) ["custom", "base"].forEach(function (k) { var t = self.summary.targets[k]; keys(t && t.categories).forEach(function (c) { cats[c] = true; }); });
    function sel(name, label, options, value) {
      var s = h("select", { name: name, onchange: function () {
        f[name] = s.value;
        if (name === "metric") f.rating = "";
        self.page = 0;
        self.render();
      } }, h("option", { value: "" }, "any"), options.map(function (o) {
        var opt = h("option", { value: o }, o);
        if (o === value) opt.selected = true;
        return opt;
      }));
      return h("label", null, label, s);
    }
    var q = h("input", { type: "search", name: "q", value: f.q, placeholder: "words in the prompt, or a record id" });
    var timer = null;
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { f.q = q.value; self.page = 0; self.render(); var again = self.box.querySelector("input[name=q]"); if (again) { again.focus(); again.setSelectionRange(again.value.length, again.value.length); } }, 200);
    });
    return h("div", { class: "filters", id: "filters" },
      sel("metric", "metric", metrics, f.metric),
      sel("rating", "rating", f.metric ? this.ratingsOf(f.metric) : [], f.rating),
      sel("status", "status", ["ok", "unscored", "not_applicable", "error"], f.status),
      sel("target", "model", ["custom", "base"], f.target),
      sel("category", "category", Object.keys(cats).sort(), f.category),
      h("label", null, "search", q));
  };

  function chip(metric, s, cls) {
    if (!s) return null;
    var bad = s.status !== "ok";
    return h("span", { class: "chip " + cls + (bad ? " bad" : ""), title: metric + ": " + (s.rating || s.status) + (bad ? " (" + s.status + ")" : "") },
      metric + ": " + (s.rating || s.status));
  }

  Browser.prototype.detail = function (g) {
    var self = this;
    function side(t) {
      var r = g.t[t];
      if (!r) return h("div", { class: "side " + t }, h("h3", null, t), h("p", { class: "muted" }, "not loaded or not evaluated"));
      return h("div", { class: "side " + t, "data-target": t },
        h("h3", null, h("span", { class: "swatch " + t }), " " + t + " \u00b7 ", h("span", { class: "muted" }, r.model || "")),
        r.error ? h("div", { class: "error-box" }, r.error) : null,
        h("div", { class: "pre", "data-k": "response" }, r.response === null || r.response === undefined ? "(no response)" : r.response),
        keys(r.scores).map(function (m) {
          var s = r.scores[m];
          return h("div", { class: "score", "data-metric": m },
            h("strong", null, m), " ", badge(s.status), " ",
            h("span", { "data-k": "rating" }, s.rating || "\u2013"),
            isNum(s.score) ? h("span", { class: "muted" }, " \u00b7 score " + s.score + " \u00b7 normalized " + f3(s.normalized)) : null,
            s.error ? h("div", { class: "small", style: "color:var(--err)" }, s.error) : null,
            h("div", { class: "expl", "data-k": "explanation" }, s.explanation || "(no explanation)"));
        }));
    }
    return h("div", { class: "detail", id: "record-detail", "data-record": String(g.index) },
      h("div", { class: "pager" }, h("strong", null, "record " + g.id), h("span", { class: "muted" }, "index " + g.index + (g.category ? " \u00b7 " + g.category : "")),
        h("span", { class: "spacer" }), h("button", { type: "button", onclick: function () { self.open = null; self.render(); } }, "Close")),
      h("h3", null, "prompt"), h("div", { class: "pre", "data-k": "prompt" }, g.prompt || ""),
      g.reference ? [h("h3", null, "reference"), h("div", { class: "pre" }, g.reference)] : null,
      h("div", { class: "sides" }, side("custom"), g.t.base || (this.summary && this.summary.targets.base) ? side("base") : null));
  };

  Browser.prototype.render = function () {
    var self = this, box = clear(this.box);
    var shown = this.groups.filter(function (g) { return self.matches(g); });
    var pages = Math.max(1, Math.ceil(shown.length / LIST_PAGE));
    if (this.page >= pages) this.page = pages - 1;
    var slice = shown.slice(this.page * LIST_PAGE, (this.page + 1) * LIST_PAGE);
    var total = this.src.offline ? this.src.rowsTotal() : this.total;
    add(box, this.filters());
    var info = h("p", { class: "small muted", id: "browser-count", "data-shown": String(shown.length), "data-loaded": String(this.groups.length),
      "data-q": this.f.q },
      shown.length + " of " + this.groups.length + " record(s) match" + (this.rows.length < total ? " (" + this.rows.length + " of " + total + " rows loaded; filters apply to the loaded rows)" : ""));
    add(box, info);
    if (!this.src.offline && this.rows.length < total) {
      add(box, h("button", { type: "button", id: "load-more", disabled: this.loading ? "disabled" : null, onclick: function () {
        self.load(AUTO_ROWS).catch(function (e) { add(box, h("div", { class: "error-box" }, e.message)); });
      } }, "Load " + Math.min(AUTO_ROWS, total - this.rows.length) + " more rows"));
    }
    var metrics = this.metrics();
    var rows = slice.map(function (g) {
      var tr = h("tr", { class: "click" + (self.open === g.index ? " selected" : ""), "data-record": String(g.index), tabindex: "0",
        onclick: function () { self.open = self.open === g.index ? null : g.index; self.render(); var d = document.getElementById("record-detail"); if (d) d.scrollIntoView({ block: "nearest" }); },
        onkeydown: function (ev) { if (ev.key === "Enter") tr.click(); } },
        h("td", null, String(g.id)), h("td", null, g.category || ""), h("td", null, h("div", { class: "clip" }, g.prompt || "")),
        ["custom", "base"].map(function (t) {
          var r = g.t[t];
          return h("td", null, r ? h("div", { class: "chips" }, r.error ? h("span", { class: "chip bad" }, "inference error") : null,
            metrics.map(function (m) { return chip(m, r.scores && r.scores[m], t); })) : "");
        }));
      return tr;
    });
    var table = h("table", { id: "records" }, h("thead", null, h("tr", null, ["record", "category", "prompt", "custom", "base"].map(function (c) { return h("th", null, c); }))),
      h("tbody", null, rows));
    add(box, table);
    if (this.open !== null && this.byIndex[this.open]) {
      var at = rows.filter(function (r) { return r.getAttribute("data-record") === String(self.open); })[0];
      var d = this.detail(this.byIndex[this.open]);
      if (at) {
        var holder = h("tr", { class: "detail-row" }, h("td", { colspan: "5" }, d));
        at.parentNode.insertBefore(holder, at.nextSibling);
      } else {
        add(box, d);
      }
    }
    add(box, h("div", { class: "pager" },
      h("button", { type: "button", id: "prev", disabled: this.page === 0 ? "disabled" : null, onclick: function () { self.page--; self.render(); } }, "\u2190 previous"),
      h("span", { class: "muted", id: "page" }, "page " + (this.page + 1) + " of " + pages),
      h("button", { type: "button", id: "next", disabled: this.page >= pages - 1 ? "disabled" : null, onclick: function () { self.page++; self.render(); } }, "next \u2192")));
  };

  /* ---- the job page ---- */

  function live(job) { return job.status === "running" || job.status === "queued" || job.status === "stopping"; }

  /* The job page. While the job runs, only its header (status, progress) is read again every few
   * seconds, so the record browser keeps its filters and its open record; when the job ends the
   * whole page is read again, summary included. */
  function renderJob(app, src, id, crumb) {
    var head = null;
    function poll() {
      setTimeout(function () {
        src.job(id).then(function (job) {
          if (!live(job)) return load();
          var fresh = h("div", { id: "job-head" }, header(job, null, src));
          head.parentNode.replaceChild(fresh, head);
          head = fresh;
          poll();
        }).catch(function (e) { showError(app, e, load); });
      }, 3000);
    }
    function load() {
      return Promise.all([src.job(id), src.summary(id)]).then(function (res) {
        var job = res[0], summary = res[1];
        clear(app);
        if (crumb) { clear(crumb); add(crumb, ["/ ", h("span", null, job.name || job.job_id)]); }
        document.title = (job.name || job.job_id) + " \u00b7 llmaj";
        head = h("div", { id: "job-head" }, header(job, summary, src));
        add(app, head);
        if (summary && summary.targets) {
          var t = summary.targets;
          add(app, [h("h2", null, "Metrics"),
            h("div", null, ["custom", "base"].filter(function (k) { return t[k]; }).map(function (k) {
              return h("span", { class: "key" }, h("span", { class: "swatch " + k }), k + ": " + (t[k].model || "responses from the dataset"));
            })),
            metricTable(summary)]);
          if (summary.comparison && keys(summary.comparison).length) add(app, [h("h2", null, "Custom vs base"), comparisonTable(summary)]);
          add(app, [h("h2", null, "By category"), categoryTable(summary), h("h2", null, "Ratings"), histograms(summary)]);
        } else {
          add(app, h("p", { class: "note" }, "The summary is written when the job ends; the records committed so far are below."));
        }
        var box = h("div", { id: "browser" });
        add(app, [h("h2", null, "Records"), box]);
        var b = new Browser(src, id, summary, box);
        b.render();
        var first = src.offline ? (src.d.records || []).length : AUTO_ROWS;
        b.load(first).catch(function (e) { add(box, h("div", { class: "error-box" }, e.message)); });
        if (!src.offline && live(job)) poll();
      });
    }
    return load().catch(function (e) { showError(app, e, function () { renderJob(app, src, id, crumb); }); });
  }

  /* ---- start ---- */

  function tokenFromFragment() {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash || "");
    if (!m) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);   /* keep it out of the address bar */
  }

  function start() {
    var app = document.getElementById("app"), crumb = document.getElementById("crumb"), mode = document.getElementById("mode");
    var data;
    try {
      data = embedded();
    } catch (e) {
      showError(app, new Error("the data embedded in this page does not parse: " + e.message));
      return;
    }
    if (data) {
      if (mode) mode.textContent = "saved report";
      var brand = document.querySelector(".brand");
      if (brand) brand.removeAttribute("href");
      renderJob(app, new EmbeddedSource(data), data.job.job_id, crumb);
      return;
    }
    tokenFromFragment();
    var src = new ApiSource("");
    var m = /^\/jobs\/([^/]+)\/?$/.exec(location.pathname);
    if (m) renderJob(app, src, decodeURIComponent(m[1]), crumb);
    else renderList(app, src);
  }

  window.LLMAJ.viewer = { start: start, EmbeddedSource: EmbeddedSource, ApiSource: ApiSource };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
