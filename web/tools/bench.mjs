#!/usr/bin/env node
// Runs web/bench/ in headless Chromium (the system's, through playwright-core) for each case and prints one JSON
// line per case: node web/tools/bench.mjs FOLDER "el=NAME&width=1280&height=720&backend=wasm&rounds=7" ...
// A case that starts with "/" is another page of the package and its query: "/check/?backend=webgpu".
import { launch, server as pageServer } from "./browser.mjs";

const [folder, ...cases] = process.argv.slice(2);
const pages = await pageServer(folder);
const browser = await launch();
try {
  for (const query of cases) {
    const page = await browser.newPage();
    let report;
    const reported = new Promise((ok) => { report = ok; });
    await page.exposeFunction("mtvirReport", (json) => report(json));
    const q = new URLSearchParams(query);
    if (query.startsWith("/")) await page.goto(`${pages.base}${query}`);
    else {
      q.set("el", `/media/${q.get("el")}`);
      await page.goto(`${pages.base}/bench/?${q}`);
    }
    const limit = Number(process.env.MTVIR_BENCH_TIMEOUT ?? 600) * 1000;
    const result = await Promise.race([reported, new Promise((ok) => setTimeout(() => ok(JSON.stringify({ error: "timed out" })), limit).unref())]);
    console.log(JSON.stringify({ query, ...JSON.parse(result) }));
    await page.close();
  }
} finally {
  await browser.close();
  pages.close();
}
