// Times the enhancement of one luma plane in a worker, as the player runs it: ?el=URL&width=W&height=H&backend=
// wasm|webgpu|js&rounds=N. Reports the median milliseconds (and every round) on the page and to tools/bench.mjs.
const params = new URLSearchParams(location.search);
const worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
worker.onmessage = ({ data }) => {
  document.getElementById("out").textContent = JSON.stringify(data, null, 1);
  document.body.dataset.done = "1";
  if (typeof window.mtvirReport === "function") window.mtvirReport(JSON.stringify({ ...data, crossOriginIsolated }));
};
worker.postMessage({ el: new URL(params.get("el"), location.href).href, width: Number(params.get("width") ?? 1280),
  height: Number(params.get("height") ?? 720), backend: params.get("backend") ?? "wasm", rounds: Number(params.get("rounds") ?? 7),
  threads: Number(params.get("threads") ?? 0),
  references: new URL("/references/", location.href).href });
