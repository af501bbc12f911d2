// The web player: a worker (worker.js) demuxes an MP4 or WebM, decodes it with WebCodecs and enhances each frame;
// this thread draws what comes back (render.js) at the stream's frame rate. `new MtvirPlayer(canvas)` is the API;
// the <mtvir-video src="..." el="..." tier="..." backend="..."> element wraps it.
import { Renderer } from "./render.js";

export class MtvirPlayer extends EventTarget {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.renderer = new Renderer(canvas);
    this.split = 0; // 0: BL+EL everywhere; 1: BL everywhere; between: BL left of the line
    this.capture = new Set(); // frame indices whose planes are kept in this.captured (tests, tools)
    this.captured = new Map();
    // playMs: from the first frame drawn to the last (the playing rate: (frames - 1) / playMs)
    this.stats = { frames: 0, enhanceMs: 0, playMs: 0, elBytes: 0, tier: null, engine: null, messages: [] };
    this.last = null;
  }

  /** Plays ``src`` (a URL or a File) to the end; ``el``: a sidecar .mtvir (URL or File), else the EL in band;
   * ``backend``: auto (simd for the light network, else wasm), simd (the package's kernels), wasm (ONNX Runtime
   * Web), webgpu or js; ``fast``: as fast as frames come (else at the stream's frame rate). Resolves with the number
   * of frames played. */
  async play(src, { el = null, tier = null, backend = "auto", threads = 0, fast = false } = {}) {
    const elBytes = el ? await bytesOf(el) : null;
    this.firstDrawn = null;
    const worker = new Worker(new URL("worker.js", import.meta.url), { type: "module" });
    this.worker = worker;
    let started = null;
    const done = new Promise((resolve, reject) => {
      worker.onmessage = ({ data: m }) => {
        if (m.type === "frame") {
          this.onFrame(m, fast, started ??= performance.now());
        } else if (m.type === "ready") {
          Object.assign(this, { codec: m.codec, fps: m.fps });
          this.dispatchEvent(new CustomEvent("ready", { detail: m }));
        } else if (m.type === "el") {
          this.stats.tier = m.tier;
          this.stats.engine = m.engine;
          this.stats.elBytes = m.inBand ? this.stats.elBytes + m.bytes : m.bytes;
          this.dispatchEvent(new CustomEvent("el", { detail: m }));
        } else if (m.type === "message" || m.type === "error") {
          this.stats.messages.push(m.text);
          this.dispatchEvent(new CustomEvent("message", { detail: m.text }));
        } else if (m.type === "failed") reject(new Error(m.text));
        else if (m.type === "done") this.drawn.then(() => resolve(m.frames));
      };
      worker.onerror = (e) => reject(new Error(`the player's worker failed: ${e.message}`));
    });
    this.drawn = Promise.resolve();
    worker.postMessage({ src: typeof src === "string" ? new URL(src, location.href).href : src, el: elBytes, tier, backend,
      threads, references: new URL("/references/", location.href).href });
    try {
      return await done;
    } finally {
      worker.terminate();
    }
  }

  onFrame(m, fast, started) {
    this.stats.frames = m.index + 1;
    this.stats.enhanceMs += m.ms;
    if (this.capture.has(m.index)) this.captured.set(m.index, m);
    const due = started + (m.index * 1000) / this.fps - performance.now();
    this.drawn = this.drawn.then(() => new Promise((ok) => setTimeout(ok, fast ? 0 : Math.max(0, due)))).then(() => {
      this.last = m;
      this.redraw();
      this.firstDrawn ??= performance.now();
      this.stats.playMs = performance.now() - this.firstDrawn;
      this.worker.postMessage({ type: "drawn" });
      this.dispatchEvent(new CustomEvent("frame", { detail: m }));
    });
  }

  redraw() {
    const m = this.last;
    if (m) this.renderer.draw(m.width, m.height, m.depth, m.bl, m.el, this.split);
  }
}

async function bytesOf(source) {
  const buffer = source instanceof Blob ? await source.arrayBuffer() : await (await fetch(source)).arrayBuffer();
  return new Uint8Array(buffer);
}

/** <mtvir-video src="video.mp4" el="sidecar.mtvir" tier="light" backend="auto">: a canvas that plays the video. */
export class MtvirVideo extends HTMLElement {
  connectedCallback() {
    const canvas = document.createElement("canvas");
    canvas.style.maxWidth = "100%";
    this.append(canvas);
    this.player = new MtvirPlayer(canvas);
    const src = this.getAttribute("src");
    if (src) this.player.play(src, { el: this.getAttribute("el"), tier: this.getAttribute("tier"), backend: this.getAttribute("backend") ?? "auto" });
  }
}
if (globalThis.customElements && !customElements.get("mtvir-video")) customElements.define("mtvir-video", MtvirVideo);
