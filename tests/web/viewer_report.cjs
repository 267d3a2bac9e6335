/* The results viewer in headless Chromium, on a saved report (`llmaj report JOB --html FILE`):
 * the page loads with no error (a CSP violation would be one), every figure on it equals
 * summary.json, the record browser filters by metric, rating, model, status, category and prompt
 * text exactly as the records say, and an opened record shows both models' responses and the
 * judge's explanations; figures that sit exactly halfway round as `llmaj report` rounds them.
 * Screenshots go to OUT_DIR.
 *
 *   node viewer_report.cjs REPORT.html records.jsonl summary.json OUT_DIR
 *
 * playwright-core comes from $LLMAJ_NODE_MODULES (scripts/web.sh); the browser is /usr/bin/chromium.
 * Prints one line per check group and a closing "N passed, N failed"; exit 1 on any failure. */
"use strict";
const fs = require("fs");
const path = require("path");

const [reportPath, recordsPath, summaryPath, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node viewer_report.cjs REPORT.html records.jsonl summary.json OUT_DIR");
  process.exit(2);
}
const modules = process.env.LLMAJ_NODE_MODULES;
if (!modules || !fs.existsSync(path.join(modules, "playwright-core"))) {
  console.error("playwright-core not found under LLMAJ_NODE_MODULES=" + modules + ": run scripts/web.sh BUILD_DIR");
  process.exit(2);
}
const { chromium } = require(path.join(modules, "playwright-core"));

const summary = JSON.parse(fs.readFileSync(summaryPath, "utf8"));
const records = fs.readFileSync(recordsPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
fs.mkdirSync(outDir, { recursive: true });

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else { failed++; console.error("FAIL: " + what); }
}
function eq(got, want, what) { check(got === want, what + ": got " + JSON.stringify(got) + ", want " + JSON.stringify(want)); }
/* v with d decimals as C's printf writes it (`llmaj report`; Python's format agrees): from v's
 * exact binary value, a tie to the even digit. Computed with BigInt, apart from the page's own
 * way, so the page is checked against printf and not against itself. */
function printfFixed(v, d) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(v));
  const bits = dv.getBigUint64(0), exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n), e2 = -1074;
  if (exp) { mant |= 1n << 52n; e2 = exp - 1075; }
  let num = mant * 10n ** BigInt(d), den = 1n;   /* |v| * 10^d = num / den exactly */
  if (e2 >= 0) num <<= BigInt(e2); else den <<= BigInt(-e2);
  let q = num / den;
  const r2 = 2n * (num % den);
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  let s = q.toString().padStart(d + 1, "0");
  if (d) s = s.slice(0, -d) + "." + s.slice(-d);
  return (v < 0 ? "-" : "") + s;
}
const f3 = (v) => (typeof v === "number" ? printfFixed(v, 3) : "\u2013");

/* The records grouped as the browser groups them: one entry per record index. */
const groups = new Map();
for (const r of records) {
  if (!groups.has(r.record_index)) groups.set(r.record_index, { index: r.record_index, id: r.record_id, prompt: r.prompt, category: r.category, t: {} });
  groups.get(r.record_index).t[r.target] = r;
}
function expectCount(pred) { let n = 0; for (const g of groups.values()) if (pred(g)) n++; return n; }

async function attr(page, sel, name) {
  const e = await page.$(sel);
  return e ? e.getAttribute(name) : null;
}

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems = [];
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push("console " + m.type() + ": " + m.text()); });
    page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) problems.push("network request: " + r.url()); });
    await page.goto("file://" + path.resolve(reportPath));
    await page.waitForSelector("#metrics");
    await page.waitForSelector("#records tbody tr");

    /* Figures: metric table, comparison, categories, histograms. */
    const t = summary.targets;
    for (const target of Object.keys(t)) {
      for (const [name, m] of Object.entries(t[target].metrics)) {
        const row = `#metrics tr[data-metric="${name}"]`;
        eq(await attr(page, `${row} [data-k="${target}.mean"]`, "data-value"), String(m.mean), `${target} ${name} mean`);
        eq(await page.textContent(`${row} [data-k="${target}.mean"]`), f3(m.mean), `${target} ${name} mean as shown`);
        eq(await attr(page, `${row} [data-k="${target}.n"]`, "data-value"), String(m.n), `${target} ${name} n`);
        eq(await attr(page, `${row} [data-k="${target}.ci95"]`, "data-value"), JSON.stringify(m.ci95), `${target} ${name} ci95`);
        eq(await attr(page, `#histograms [data-metric="${name}"] [data-k="${target}.ratings"]`, "data-value"),
          JSON.stringify(Object.values(m.ratings)), `${target} ${name} rating counts`);
        check((await page.$(`${row} svg`)) !== null || m.mean === null, `${name}: an interval plot`);
        const badge = await page.$(`${row} .badge.lower`);
        check(Boolean(badge) === Boolean(m.lower_is_better), `${name}: the lower-is-better mark matches summary.json`);
      }
      for (const [cat, ms] of Object.entries(t[target].categories || {})) {
        for (const [name, m] of Object.entries(ms)) {
          eq(await attr(page, `#categories tr[data-category="${cat}"] td[data-metric="${name}"] [data-k="${target}.mean"]`, "data-value"),
            String(m.mean), `${target} ${cat} ${name} mean`);
        }
      }
    }
    for (const [name, c] of Object.entries(summary.comparison || {})) {
      const row = `#comparison tr[data-metric="${name}"]`;
      for (const k of ["mean_diff", "wins", "ties", "losses", "win_rate", "n"])
        eq(await attr(page, `${row} [data-k="${k}"]`, "data-value"), String(c[k]), `comparison ${name} ${k}`);
      eq(await attr(page, `${row} [data-k="ci95"]`, "data-value"), JSON.stringify(c.ci95), `comparison ${name} ci95`);
      check((await page.$$(`${row} svg rect`)).length >= 1, `comparison ${name}: a wins/ties/losses bar`);
    }
    console.log("figures equal summary.json");
    await page.screenshot({ path: path.join(outDir, "report-overview.png"), fullPage: true });

    /* The record browser: every record loaded, then filters. */
    eq(await attr(page, "#browser-count", "data-loaded"), String(groups.size), "records loaded");
    const shown = async () => Number(await attr(page, "#browser-count", "data-shown"));
    const cmpMetrics = Object.keys(summary.comparison || {});
    const lower = cmpMetrics.find((n) => summary.comparison[n].lower_is_better && !t.custom.metrics[n].builtin) || cmpMetrics[0];
    const metric = Object.keys(t.custom.metrics).includes("BadMetric") ? "BadMetric" : lower;
    const rating = Object.keys(t.custom.metrics[metric].ratings)[0];
    await page.selectOption("#filters select[name=metric]", metric);
    await page.selectOption("#filters select[name=rating]", rating);
    await page.selectOption("#filters select[name=target]", "custom");
    eq(await shown(), expectCount((g) => g.t.custom && g.t.custom.scores[metric] && g.t.custom.scores[metric].rating === rating),
      `records whose custom ${metric} is "${rating}"`);
    await page.$eval("#browser", (e) => e.scrollIntoView());
    await page.screenshot({ path: path.join(outDir, "report-filtered.png"), fullPage: false });
    await page.selectOption("#filters select[name=target]", "");
    eq(await shown(), expectCount((g) => ["custom", "base"].some((k) => g.t[k] && g.t[k].scores[metric] && g.t[k].scores[metric].rating === rating)),
      `records where either model's ${metric} is "${rating}"`);
    await page.selectOption("#filters select[name=rating]", "");
    await page.selectOption("#filters select[name=metric]", "");
    await page.selectOption("#filters select[name=status]", "unscored");
    eq(await shown(), expectCount((g) => Object.values(g.t).some((r) => Object.values(r.scores).some((s) => s.status === "unscored"))),
      "records with an unscored metric");
    await page.selectOption("#filters select[name=status]", "");
    const cats = [...new Set(records.map((r) => r.category).filter(Boolean))].sort();
    if (cats.length) {
      await page.selectOption("#filters select[name=category]", cats[0]);
      eq(await shown(), expectCount((g) => g.category === cats[0]), `records in category ${cats[0]}`);
      await page.selectOption("#filters select[name=category]", "");
    }
    /* Search: the rarest word of the first prompt. The page applies a search a moment after the
     * typing stops and then marks #browser-count with data-q: wait for that, not for a count. */
    const matches = (w) => expectCount((g) => (g.prompt || "").toLowerCase().includes(w.toLowerCase()) || String(g.id).toLowerCase().includes(w.toLowerCase()));
    const words = records[0].prompt.split(/[^A-Za-z0-9]+/).filter((w) => w.length > 1);
    const word = words.sort((a, b) => matches(a) - matches(b))[0];
    const applied = (q) => page.waitForFunction((v) => document.querySelector("#browser-count").getAttribute("data-q") === v, q);
    await page.fill("#filters input[name=q]", word);
    await applied(word);
    eq(await shown(), matches(word), `records whose prompt holds "${word}"`);
    await page.fill("#filters input[name=q]", "");
    await applied("");
    eq(await shown(), groups.size, "no filter: every record");
    console.log("filters match the records");

    /* Open a record: prompt, both responses, the judge's explanations. */
    const first = groups.get(records[0].record_index);
    await page.click(`#records tbody tr[data-record="${first.index}"]`);
    await page.waitForSelector("#record-detail");
    eq(await page.textContent('#record-detail [data-k="prompt"]'), first.prompt, "opened record: prompt");
    for (const k of Object.keys(first.t)) {
      const r = first.t[k];
      eq(await page.textContent(`#record-detail [data-target="${k}"] [data-k="response"]`), r.response, `opened record: ${k} response`);
      for (const [m, s] of Object.entries(r.scores)) {
        eq(await page.textContent(`#record-detail [data-target="${k}"] [data-metric="${m}"] [data-k="explanation"]`),
          s.explanation || "(no explanation)", `opened record: ${k} ${m} explanation`);
        eq(await page.textContent(`#record-detail [data-target="${k}"] [data-metric="${m}"] [data-k="rating"]`),
          s.rating || "\u2013", `opened record: ${k} ${m} rating`);
      }
    }
    await (await page.$("#record-detail")).screenshot({ path: path.join(outDir, "report-record.png") });
    console.log("an opened record shows both responses and the explanations");

    /* Rounding: the same page with figures that sit exactly halfway (k/16) shows them as
     * `llmaj report` does (tests/unit/test_report.c prints these same numbers), not as toFixed
     * would (0.063, 6.3%). */
    const html = fs.readFileSync(reportPath, "utf8");
    const open = '<script type="application/json" id="llmaj-data">';
    const a = html.indexOf(open) + open.length, b = html.indexOf("</script>", a);
    const m = { mean: 0.0625, mean_score: 0.1875, n: 16, n_unscored: 0, n_not_applicable: 0, n_error: 0,
      ci95: [0.3125, 0.4375], ratings: { x: 16 } };
    const data = { job: { job_id: "ties", status: "succeeded" }, records: [], records_total: 0,
      summary: { targets: { custom: { model: "c", metrics: { A: m } }, base: { model: "b", metrics: { A: m } } },
        comparison: { A: { n: 16, mean_diff: -0.0625, ci95: [-0.0001, 0.5625], wins: 1, ties: 15, losses: 0, win_rate: 0.0625 } } } };
    const tiesPath = path.join(fs.mkdtempSync(path.join(require("os").tmpdir(), "viewer-ties-")), "ties.html");
    fs.writeFileSync(tiesPath, html.slice(0, a) + JSON.stringify(data) + html.slice(b));
    const p2 = await browser.newPage();
    p2.on("pageerror", (e) => problems.push("page error (ties): " + e.message));
    await p2.goto("file://" + tiesPath);
    await p2.waitForSelector("#comparison");
    eq(await p2.textContent('#metrics tr[data-metric="A"] [data-k="custom.mean"]'), "0.062", "a tie: mean");
    eq(await p2.textContent('#metrics tr[data-metric="A"] [data-k="custom.ci95"]'), "[0.312, 0.438]", "ties: CI");
    eq(await p2.textContent('#comparison tr[data-metric="A"] [data-k="mean_diff"]'), "-0.062", "a tie: mean difference");
    eq(await p2.textContent('#comparison tr[data-metric="A"] [data-k="ci95"]'), "[+0.000, +0.562]", "ties: signed CI");
    eq(await p2.textContent('#comparison tr[data-metric="A"] [data-k="win_rate"]'), "6.2%", "a tie: win rate");
    for (const [v, d] of [[0.0625, 3], [0.1875, 3], [6.25, 1], [2.5, 0], [-0.0625, 3], [0.1 + 0.2, 3]])
      eq(printfFixed(v, d), { "0.0625": "0.062", "0.1875": "0.188", "6.25": "6.2", "2.5": "2", "-0.0625": "-0.062" }[String(v)] || "0.300",
        `printfFixed(${v}, ${d})`);
    await p2.close();
    fs.rmSync(path.dirname(tiesPath), { recursive: true, force: true });
    console.log("figures round as llmaj report rounds them");
    for (const p of problems) check(false, p);
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, (e) => {
  console.error(e && e.stack ? e.stack : String(e));
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
