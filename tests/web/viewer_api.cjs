/* The results viewer in headless Chromium, reading the REST API of a live scheduler service (the
 * pages it serves at / and /jobs/{id}): with a token required, the job list asks for the token,
 * then lists the jobs; a finished job's page shows summary.json's figures; its record browser
 * loads every row through /v1/jobs/{id}/results pages, filters them as records.jsonl says, and
 * opens a record with both responses and the judge's explanations; a #token=... link signs in
 * without the form and leaves the address bar clean; a running job's page updates while it runs
 * (its filters kept) and, once this script stops the job through the API, shows the stopped job
 * and its partial summary. Screenshots go to OUT_DIR.
 *
 *   node viewer_api.cjs BASE_URL JOB_ID TOKEN records.jsonl summary.json OUT_DIR LIVE_JOB_ID
 *
 * playwright-core comes from $LLMAJ_NODE_MODULES (scripts/web.sh); the browser is /usr/bin/chromium.
 * Prints a closing "N passed, N failed"; exit 1 on any failure. */
"use strict";
const fs = require("fs");
const path = require("path");

const [base, jobId, token, recordsPath, summaryPath, outDir, liveId] = process.argv.slice(2);
if (!liveId) {
  console.error("usage: node viewer_api.cjs BASE_URL JOB_ID TOKEN records.jsonl summary.json OUT_DIR LIVE_JOB_ID");
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
/* The records grouped as the browser groups them: one entry per record index. */
const groups = new Map();
for (const r of records) {
  if (!groups.has(r.record_index)) groups.set(r.record_index, { index: r.record_index, id: r.record_id, prompt: r.prompt, category: r.category, t: {} });
  groups.get(r.record_index).t[r.target] = r;
}
const nRecords = groups.size;
function expectCount(pred) { let n = 0; for (const g of groups.values()) if (pred(g)) n++; return n; }
fs.mkdirSync(outDir, { recursive: true });

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else { failed++; console.error("FAIL: " + what); }
}
function eq(got, want, what) { check(got === want, what + ": got " + JSON.stringify(got) + ", want " + JSON.stringify(want)); }

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const problems = [], api = [];
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => {
      /* The 401 before signing in is expected; anything else is a problem. */
      if ((m.type() === "error" || m.type() === "warning") && !/401/.test(m.text())) problems.push("console " + m.type() + ": " + m.text());
    });
    page.on("request", (r) => {
      if (!r.url().startsWith(base)) problems.push("request off the service: " + r.url());
      if (r.url().includes("/v1/")) api.push({ url: r.url(), auth: r.headers()["authorization"] || null });
    });

    /* The job list: first the token form, then the list. */
    await page.goto(base + "/");
    await page.waitForSelector("form.token-form");
    await page.screenshot({ path: path.join(outDir, "api-token.png") });
    await page.fill("form.token-form input[name=token]", token);
    await page.click("form.token-form button[type=submit]");
    await page.waitForSelector(`#jobs tr[data-job="${jobId}"]`);
    eq(await page.textContent(`#jobs tr[data-job="${jobId}"] [data-k=status]`), "succeeded", "the job list shows the job's status");
    await page.screenshot({ path: path.join(outDir, "api-jobs.png") });
    check(api.length >= 2 && api[0].auth === null && api[api.length - 1].auth === "Bearer " + token,
      "the first API call had no token, the one after signing in sends it: " + JSON.stringify(api));

    /* The job page, through the link. */
    await page.click(`#jobs tr[data-job="${jobId}"] a`);
    await page.waitForSelector("#metrics");
    eq(new URL(page.url()).pathname, "/jobs/" + jobId, "the link opens /jobs/{id}");
    await page.waitForFunction((n) => {
      const e = document.querySelector("#browser-count");
      return e && e.getAttribute("data-loaded") === String(n);
    }, nRecords, { timeout: 30000 });
    /* Every figure of summary.json on the page: metric table, histograms, categories, comparison. */
    const attr = async (sel, name) => { const e = await page.$(sel); return e ? e.getAttribute(name) : null; };
    for (const [target, t] of Object.entries(summary.targets)) {
      for (const [name, m] of Object.entries(t.metrics)) {
        const row = `#metrics tr[data-metric="${name}"]`;
        eq(await attr(`${row} [data-k="${target}.mean"]`, "data-value"), String(m.mean), `${target} ${name} mean`);
        eq(await attr(`${row} [data-k="${target}.n"]`, "data-value"), String(m.n), `${target} ${name} n`);
        eq(await attr(`${row} [data-k="${target}.ci95"]`, "data-value"), JSON.stringify(m.ci95), `${target} ${name} ci95`);
        eq(await attr(`#histograms [data-metric="${name}"] [data-k="${target}.ratings"]`, "data-value"),
          JSON.stringify(Object.values(m.ratings)), `${target} ${name} rating counts`);
        check(Boolean(await page.$(`${row} .badge.lower`)) === Boolean(m.lower_is_better), `${name}: the lower-is-better mark`);
      }
      for (const [cat, ms] of Object.entries(t.categories || {}))
        for (const [name, m] of Object.entries(ms))
          eq(await attr(`#categories tr[data-category="${cat}"] td[data-metric="${name}"] [data-k="${target}.mean"]`, "data-value"),
            String(m.mean), `${target} ${cat} ${name} mean`);
    }
    for (const [name, c] of Object.entries(summary.comparison || {})) {
      const row = `#comparison tr[data-metric="${name}"]`;
      for (const k of ["mean_diff", "wins", "ties", "losses", "win_rate", "n"])
        eq(await attr(`${row} [data-k="${k}"]`, "data-value"), String(c[k]), `comparison ${name} ${k}`);
      eq(await attr(`${row} [data-k="ci95"]`, "data-value"), JSON.stringify(c.ci95), `comparison ${name} ci95`);
    }
    const pages = api.filter((a) => a.url.includes(`/v1/jobs/${jobId}/results?`));
    check(pages.length >= 1 && pages.every((a) => a.auth === "Bearer " + token), "result pages were fetched with the token");
    check(pages.some((a) => /offset=0&limit=\d+/.test(a.url)), "the first page starts at offset 0");
    await page.screenshot({ path: path.join(outDir, "api-job.png"), fullPage: true });

    /* Filters: the records the page shows are the ones records.jsonl says. */
    const shown = async () => Number(await page.getAttribute("#browser-count", "data-shown"));
    const metric = "Tone", rating = Object.keys(summary.targets.custom.metrics[metric].ratings)[0];
    await page.selectOption("#filters select[name=metric]", metric);
    await page.selectOption("#filters select[name=rating]", rating);
    await page.selectOption("#filters select[name=target]", "custom");
    eq(await shown(), expectCount((g) => g.t.custom && g.t.custom.scores[metric].rating === rating),
      `records whose custom ${metric} is "${rating}"`);
    await page.$eval("#browser", (e) => { e.scrollIntoView(); window.scrollBy(0, -120); });   /* the filters below the bar */
    await page.screenshot({ path: path.join(outDir, "api-filtered.png") });
    await page.selectOption("#filters select[name=target]", "");
    await page.selectOption("#filters select[name=rating]", "");
    await page.selectOption("#filters select[name=metric]", "");
    const cat = [...new Set(records.map((r) => r.category))].sort()[0];
    await page.selectOption("#filters select[name=category]", cat);
    eq(await shown(), expectCount((g) => g.category === cat), `records in category ${cat}`);
    await page.selectOption("#filters select[name=category]", "");
    eq(await shown(), nRecords, "no filter: every record");

    /* Open a record: the prompt, both models' responses and every judge explanation. */
    const first = groups.get(records[0].record_index);
    await page.click(`#records tbody tr[data-record="${first.index}"]`);
    await page.waitForSelector("#record-detail");
    eq(await page.textContent('#record-detail [data-k="prompt"]'), first.prompt, "opened record: prompt");
    for (const k of ["custom", "base"]) {
      const r = first.t[k];
      eq(await page.textContent(`#record-detail [data-target="${k}"] [data-k="response"]`), r.response, `opened record: ${k} response`);
      for (const [m, s] of Object.entries(r.scores))
        eq(await page.textContent(`#record-detail [data-target="${k}"] [data-metric="${m}"] [data-k="explanation"]`),
          s.explanation || "(no explanation)", `opened record: ${k} ${m} explanation`);
    }
    await (await page.$("#record-detail")).screenshot({ path: path.join(outDir, "api-record.png") });

    /* A fresh tab (no stored token) signs in from the address's #token=, and drops it from the bar. */
    const p2 = await (await browser.newContext()).newPage();
    p2.on("pageerror", (e) => problems.push("page error: " + e.message));
    const api2 = [];
    p2.on("request", (r) => { if (r.url().includes("/v1/")) api2.push({ url: r.url(), auth: r.headers()["authorization"] || null }); });
    await p2.goto(base + "/jobs/" + encodeURIComponent(jobId) + "#token=" + encodeURIComponent(token));
    await p2.waitForSelector("#metrics");
    eq(new URL(p2.url()).hash, "", "the token is removed from the address bar");

    /* A running job (on the slow mock): its header refreshes while the record browser stays as
     * it is (filters kept); stopped through the API, the page shows it stopped, with its partial
     * summary. Every wait is for a state, with a generous deadline. */
    await p2.goto(base + "/jobs/" + encodeURIComponent(liveId));
    await p2.waitForSelector("#browser-count");
    eq(await p2.textContent('#job-head [data-k="status"]'), "running", "the live job's page shows it running");
    check((await p2.$("#metrics")) === null && /written when the job ends/.test(await p2.textContent("#app")),
      "a running job has no summary yet, and says when it comes");
    await p2.waitForFunction(() => document.querySelector("#browser-count") &&
      Number(document.querySelector("#browser-count").getAttribute("data-loaded")) > 0, null, { timeout: 120000 });
    await p2.selectOption("#filters select[name=target]", "base");
    const before = await p2.textContent('#job-head [data-k="units"]');
    await p2.waitForFunction((b) => { const e = document.querySelector('#job-head [data-k="units"]'); return e && e.textContent !== b; },
      before, { timeout: 120000 });
    eq(await p2.$eval("#filters select[name=target]", (e) => e.value), "base", "the header refreshed without resetting the record browser's filters");
    await p2.screenshot({ path: path.join(outDir, "api-live-running.png"), fullPage: true });
    const stop = await fetch(base + "/v1/jobs/" + encodeURIComponent(liveId) + "/stop",
      { method: "POST", headers: { Authorization: "Bearer " + token } });
    eq(stop.status, 202, "POST /v1/jobs/{id}/stop");
    await p2.waitForSelector("#metrics", { timeout: 300000 });
    eq(await p2.textContent('#job-head [data-k="status"]'), "stopped", "the stopped job's page shows its status");
    const partial = await (await fetch(base + "/v1/jobs/" + encodeURIComponent(liveId) + "/summary",
      { headers: { Authorization: "Bearer " + token } })).json();
    check(partial.partial === true && partial.status === "stopped", "the live job's summary is partial");
    const mark = await p2.$('#job-head [data-k="partial"]');
    check(mark !== null && /^Partial: the job ended stopped/.test(await mark.textContent()), "the stopped job's page says its figures are partial");
    for (const [target, t] of Object.entries(partial.targets)) {
      for (const [name, m] of Object.entries(t.metrics)) {
        const cell = await p2.$(`#metrics tr[data-metric="${name}"] [data-k="${target}.mean"]`);
        eq(cell && (await cell.getAttribute("data-value")), String(m.mean), `stopped job: ${target} ${name} mean`);
      }
    }
    await p2.screenshot({ path: path.join(outDir, "api-live-stopped.png"), fullPage: true });

    /* An unknown job says so. */
    await p2.goto(base + "/jobs/no-such-job");
    await p2.waitForSelector('[data-k="error"]');
    const said = (await (await fetch(base + "/v1/jobs/no-such-job", { headers: { Authorization: "Bearer " + token } })).json()).errors[0].message;
    check((await p2.textContent('[data-k="error"]')).includes(said), "an unknown job shows the service's message: " + said);
    /* Every API request of the second tab (signed in from the link), the live page's polls
     * included, carried the token. */
    const livePolls = api2.filter((a) => a.url.endsWith("/v1/jobs/" + encodeURIComponent(liveId)));
    check(livePolls.length >= 2, "the live job's page read the job again while it ran: " + livePolls.length + " reads");
    check(api2.length > 0 && api2.every((a) => a.auth === "Bearer " + token),
      "every API request of the signed-in tab sent the token: " + JSON.stringify(api2.filter((a) => a.auth !== "Bearer " + token)));
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
