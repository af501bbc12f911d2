#!/usr/bin/env node
// mtvir-serve: the web player and a folder of videos on http://127.0.0.1:PORT/, with the headers WASM threads need
// (cross-origin isolation: COOP same-origin, COEP require-corp) and byte ranges for the demuxer.
//
//   node web/serve.js [FOLDER] [--port 8787] [--references DIR]
//
// FOLDER (default: out/, where `make demo` writes) is served under /media/; the shipped reference models under
// /references/ with an index.json of their ids (computed here by the package's own reader).
import { createServer } from "node:http";
import { createReadStream, readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { resolve, join, extname, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { referenceId } from "./src/index.js";

const root = resolve(fileURLToPath(new URL(".", import.meta.url)));
const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : fallback; };
const port = Number(option("--port", 8787));
const references = resolve(option("--references", join(root, "..", "decoder_sdk", "mtvir_decoder", "references")));
const media = resolve(args[0] ?? join(root, "..", "out"));
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
  ".wasm": "application/wasm", ".json": "application/json", ".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
  ".mtvir": "application/octet-stream", ".map": "application/json" };

async function referenceIndex() {
  const index = {};
  if (!existsSync(references)) return index;
  for (const name of readdirSync(references).filter((f) => f.endsWith(".mtvir"))) {
    try { index[await referenceId(new Uint8Array(readFileSync(join(references, name))))] = name; } catch { /* not a reference */ }
  }
  return index;
}

function inside(base, path) { const full = resolve(base, "." + path); return full === base || full.startsWith(base + sep) ? full : null; }

export async function serve({ port: p = port, host = "127.0.0.1" } = {}) {
  const index = JSON.stringify(await referenceIndex());
  const server = createServer((req, res) => {
    const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin", "Cache-Control": "no-cache" };
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/") { res.writeHead(302, { ...headers, Location: "/player/" }); res.end(); return; }
    if (path === "/references/index.json") { res.writeHead(200, { ...headers, "Content-Type": "application/json" }); res.end(index); return; }
    const file = path.startsWith("/media/") ? inside(media, path.slice(6)) : path.startsWith("/references/")
      ? inside(references, path.slice(11)) : inside(root, path.endsWith("/") ? path + "index.html" : path);
    let stat = null;
    try { stat = file && statSync(file); } catch { /* missing */ }
    if (!stat || !stat.isFile()) { res.writeHead(404, headers); res.end("not found"); return; }
    headers["Content-Type"] = TYPES[extname(file)] ?? "application/octet-stream";
    headers["Accept-Ranges"] = "bytes";
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    if (range && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : Math.max(0, stat.size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), stat.size - 1) : stat.size - 1;
      if (start > end) { res.writeHead(416, { ...headers, "Content-Range": `bytes */${stat.size}` }); res.end(); return; }
      res.writeHead(206, { ...headers, "Content-Range": `bytes ${start}-${end}/${stat.size}`, "Content-Length": end - start + 1 });
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, "Content-Length": stat.size });
    if (req.method === "HEAD") res.end(); else createReadStream(file).pipe(res);
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(p, host, ok));
  return server;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await serve();
  const { port: bound } = server.address();
  const videos = existsSync(media) ? readdirSync(media).filter((f) => /\.(mp4|webm|mkv)$/.test(f)) : [];
  console.log(`mtvir-serve: the player at http://127.0.0.1:${bound}/player/ (Ctrl-C stops)`);
  for (const v of videos) console.log(`  http://127.0.0.1:${bound}/player/?src=/media/${encodeURIComponent(v)}`);
  if (!videos.length) console.log(`  (no video in ${media}: make one with mtvir-export INPUT -o out/NAME --codec svtav1 --in-band)`);
}
