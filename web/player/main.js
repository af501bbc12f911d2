// The page's glue: the form to MtvirPlayer, its figures on screen. ?src=URL[&el=URL&tier=light&backend=js&fast=1&pixels=1]
// starts at once (what `node web/serve.js` prints); window.mtvir holds the player for tools and tests.
import { MtvirPlayer } from "../src/player.js";

const $ = (id) => document.getElementById(id);
const player = new MtvirPlayer($("canvas"));
window.mtvir = { player, done: null };
const params = new URLSearchParams(location.search);
for (const index of (params.get("capture") ?? "").split(",").filter(Boolean)) player.capture.add(Number(index));

function show() {
  const s = player.stats;
  const ms = s.frames ? s.enhanceMs / s.frames : 0;
  $("stats").textContent = `${s.frames} frames · ${player.codec ?? ""} · EL ${s.elBytes.toLocaleString()} B · tier ${s.tier ?? "none"} on ${s.engine ?? "-"}`
    + ` · enhance ${ms.toFixed(1)} ms/frame (${ms ? (1000 / ms).toFixed(1) : "-"} fps) · ${crossOriginIsolated ? "threads" : "1 thread (not cross-origin isolated)"}`;
}
player.addEventListener("frame", show);
player.addEventListener("el", show);
player.addEventListener("message", (e) => { $("messages").textContent += e.detail + "\n"; });

const splitOf = () => ($("enhance").checked ? Number($("split").value) : 1);
$("split").addEventListener("input", () => { player.split = splitOf(); player.redraw(); });
$("enhance").addEventListener("change", () => { player.split = splitOf(); player.redraw(); });

/** What the player decoded, for tools: its figures and each captured frame's BL and enhanced planes (base64). */
function report(frames) {
  const b64 = (a) => { const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = ""; for (const v of u) s += String.fromCharCode(v); return btoa(s); };
  const captured = [...player.captured.values()].map((m) => ({ index: m.index, width: m.width, height: m.height, depth: m.depth,
    enhanced: m.enhanced, tier: m.tier, bl: m.bl.map(b64), el: m.el.map(b64) }));
  const result = { frames, stats: player.stats, codec: player.codec, fps: player.fps, crossOriginIsolated, captured };
  if (params.has("pixels")) { // the last frame as drawn on the canvas (RGBA): tests check the drawing itself
    player.redraw();
    result.drawn = { index: player.last.index, split: player.split, rgba: b64(player.renderer.read()) };
  }
  return result;
}

function start(src) {
  $("messages").textContent = "";
  const options = { el: $("el").value || null, tier: $("tier").value || "auto", backend: $("backend").value, fast: params.has("fast") };
  window.mtvir.done = player.play(src, options).then((frames) => {
    show();
    document.body.dataset.done = String(frames); // for tools that wait without evaluating script
    if (typeof window.mtvirReport === "function") window.mtvirReport(JSON.stringify(report(frames))); // tools/play.mjs
    return frames;
  }, (err) => {
    document.body.dataset.done = "failed";
    if (typeof window.mtvirReport === "function") window.mtvirReport(JSON.stringify({ error: err?.message ?? String(err), stats: player.stats }));
    $("messages").textContent += `cannot play: ${err?.message ?? err}\n`;
    throw err;
  });
}
$("play").addEventListener("click", () => start($("file").files[0] ?? $("url").value));
$("file").addEventListener("change", () => start($("file").files[0]));
if (params.get("split")) { $("split").value = params.get("split"); player.split = splitOf(); }
if (params.get("el")) $("el").value = params.get("el");
if (params.get("tier")) $("tier").value = params.get("tier");
if (params.get("backend")) $("backend").value = params.get("backend");
if (params.get("src")) { $("url").value = params.get("src"); start(params.get("src")); }
