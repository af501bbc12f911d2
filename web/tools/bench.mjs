#!/usr/bin/env node
// Runs web/bench/ in headless Chromium (the system's, through playwright-core) for each case and prints one JSON
// line per case: node web/tools/bench.mjs FOLDER "el=NAME&width=1280&height=720&backend=wasm&rounds=7" ...
import { chromium } from "playwright-core";
import { serve } from "../serve.js";

const [folder, ...cases] = process.argv.slice(2);
process.argv[2] = folder;
const server = await serve({ port: 0 });
const { port } = server.address();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader", "--enable-unsafe-webgpu"],
});
try {
  for (const query of cases) {
    const page = await browser.newPage();
    let report;
    const reported = new Promise((ok) => { report = ok; });
    await page.exposeFunction("mtvirReport", (json) => report(json));
    const q = new URLSearchParams(query);
    q.set("el", `/media/${q.get("el")}`);
    await page.goto(`http://127.0.0.1:${port}/bench/?${q}`);
    const limit = Number(process.env.MTVIR_BENCH_TIMEOUT ?? 600) * 1000;
    const result = await Promise.race([reported, new Promise((ok) => setTimeout(() => ok(JSON.stringify({ error: "timed out" })), limit).unref())]);
    console.log(JSON.stringify({ query, ...JSON.parse(result) }));
    await page.close();
  }
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
