#!/usr/bin/env node
// Plays a video in headless Chromium through the web player and writes what it decoded: for each captured frame,
// its BL and enhanced planes (raw little-endian samples, base64) and the player's figures, as JSON.
//
//   node web/tools/play.mjs VIDEO_FOLDER NAME [--el URL] [--capture 0,5,9] [--backend auto] [--tier light] [--out F]
//
// --split 0.5 --screenshot F.png: the page as it looks at the end (the BL left of the line, BL+EL right of it).
// --pixels: the report holds the last frame as drawn on the canvas (RGBA, base64).
// The driver is playwright-core with the system's Chromium (/usr/bin/chromium, or $CHROMIUM): no browser download.
import { writeFileSync } from "node:fs";
import { launch, server as pageServer } from "./browser.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : fallback; };
const capture = option("--capture", "0"), backend = option("--backend", "auto"), tier = option("--tier", "");
const split = option("--split", ""), screenshot = option("--screenshot", "");
const pixels = args.includes("--pixels") && args.splice(args.indexOf("--pixels"), 1);
const el = option("--el", ""), out = option("--out", ""), timeout = Number(option("--timeout", 300)) * 1000;
const [folder, name] = args;
const logged = (logs) => logs.slice(0, 30).join("\n") + (logs.length > 30 ? `\n(and ${logs.length - 30} more lines)` : "");
const pages = await pageServer(folder);
const browser = await launch();
try {
  const page = await browser.newPage();
  let report;
  const reported = new Promise((ok) => { report = ok; });
  await page.exposeFunction("mtvirReport", (json) => report(json)); // a binding: the page's CSP stays whole
  const logs = [], requests = [];
  pages.server.on("request", (r) => requests.push(`${r.url} ${r.headers.range ?? ""}`));
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message} ${e.stack}`));
  page.on("response", (r) => { if (r.status() >= 400) logs.push(`HTTP ${r.status()}: ${r.url()}`); });
  const query = new URLSearchParams({ src: `/media/${name}`, fast: "1", capture, backend, ...(tier && { tier }), ...(el && { el }), ...(split && { split }), ...(pixels && { pixels: "1" }) });
  await page.goto(`${pages.base}/player/?${query}`);
  try { // a selector (Playwright's isolated world): evaluating script in the page is what its CSP forbids
    await page.waitForSelector("body[data-done]", { timeout, state: "attached" });
  } catch (e) {
    const shown = await page.locator("#stats").textContent({ timeout: 5000 }).catch(() => "?");
    throw new Error(`the player did not finish: ${e.message}\n${shown}\n${requests.length} requests, the last: `
      + `${requests.slice(-5).join("; ")}\n${logged(logs)}`);
  }
  const result = JSON.parse(await Promise.race([reported, new Promise((_, no) => setTimeout(() => no(new Error(`no report\n${logged(logs)}`)), 10000).unref())]));
  result.logs = logs;
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  const text = JSON.stringify(result);
  if (out) writeFileSync(out, text); else process.stdout.write(text + "\n");
} finally {
  await browser.close();
  pages.close();
}
