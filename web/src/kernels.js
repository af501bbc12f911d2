// MTVIR's own WebAssembly SIMD kernels for the light tier's network (kernels/light.c, built to light.wasm by
// `npm run build:wasm`): samples in, samples out, the spec's steps around the network included. A frame splits
// into bands of rows, one per thread: this one and workers (kernel_worker.js), each with its own instance.
import { RuntimeError, FormatError } from "./errors.js";
import { OP } from "./format.js";
import { unitTable } from "./network.js";

/** Whether this runs in node (its fs, os and worker_threads) rather than a browser. */
export const inNode = typeof process !== "undefined" && !!process.versions?.node;
const compiled = {};

/** The kernels' build: "relaxed" (relaxed SIMD's fused multiply-add) where the engine validates it, else "simd". */
export async function kernelVariant() {
  return WebAssembly.validate(await wasmBytes("relaxed")) ? "relaxed" : "simd";
}

async function wasmBytes(variant) {
  const url = new URL(variant === "relaxed" ? "./light-relaxed.wasm" : "./light.wasm", import.meta.url);
  return inNode ? (await import("node:fs")).readFileSync(url) : new Uint8Array(await (await fetch(url)).arrayBuffer());
}

/** The compiled module of a variant (default: the fastest this engine runs), once per thread. */
export function kernelModule(variant = null) {
  const key = variant ?? "best";
  compiled[key] ??= (async () => {
    try {
      return await WebAssembly.compile(await wasmBytes(variant ?? await kernelVariant()));
    } catch (e) {
      throw new RuntimeError(`the SIMD kernels cannot load here (WebAssembly SIMD needed): ${e.message}`);
    }
  })();
  return compiled[key];
}

/** The light network's shape, {block, convs: [[cin, cout, relu]...]}, or null for a network these kernels do not
 * run: unshuffle by 2 or 4, 3x3 convolutions of 4, 8, 16 or 32 channels, shuffle back. */
export function lightShape(d) {
  const [first, ...rest] = d.nodes, last = rest.pop();
  if (!first || first[0] !== OP.UNSHUFFLE || first[1] !== 0 || ![2, 4].includes(first[2])) return null;
  if (!last || last[0] !== OP.SHUFFLE || last[2] !== first[2] || last[1] !== d.nodes.length - 1) return null;
  const ok = (c) => [4, 8, 16, 32].includes(c);
  const convs = [];
  for (const [k, [op, a, b, c]] of rest.entries()) {
    const layer = d.layers[b];
    if (op !== OP.CONV || a !== k + 1 || b !== k || layer[2] !== 3 || !ok(layer[0]) || !ok(layer[1])) return null;
    convs.push([layer[0], layer[1], c]);
  }
  return convs.length && convs.length <= 16 ? { block: first[2], convs } : null;
}

const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];

/** Weights as the kernels read them: per convolution its Winograd weights G g G^T as [position][cin][cout] (in
 * binary64, then rounded once), then its biases. */
export function packWeights(shape, p) {
  const size = shape.convs.reduce((n, [ci, co]) => n + 16 * ci * co + co, 0), out = new Float32Array(size);
  let at = 0;
  shape.convs.forEach(([ci, co], l) => {
    const w = p.folded[l];
    for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
      const g = w.subarray((o * ci + i) * 9, (o * ci + i) * 9 + 9);
      for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) {
        let sum = 0;
        for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) sum += G[a][y] * g[3 * y + x] * G[b][x];
        out[at + ((4 * a + b) * ci + i) * co + o] = sum;
      }
    }
    at += 16 * ci * co;
    out.set(p.biasOf[l], at);
    at += co;
  });
  return out;
}

const align = (n) => (n + 15) & ~15;
const warmed = new WeakSet(); // the compiled modules this thread has run

/** One instance: run(samples, width, height, bitDepth, firstRow, row0, row1) -> the samples of output rows
 * [row0 block, min(row1 block, height)) of the plane whose rows from firstRow on are given. */
export class LightKernel {
  static async create(shape, weights, offset, residual, module = null) {
    module ??= await kernelModule();
    const kernel = new LightKernel((await WebAssembly.instantiate(module, {})).exports, shape, weights, offset, residual);
    if (!warmed.has(module)) { // V8 runs new code on its baseline compiler until it is hot: 30-80 ms frames at 720p
      warmed.add(module); // for the first ten; three small ones make it hot (tiered up) before the first frame
      try {
        for (let k = 0; k < 3; k++) kernel.run(new Uint8Array(256 * 64), 256, 64, 8, 0, 0, 32 / shape.block);
      } catch { /* a model that gives non-finite values says so on its frames */ }
    }
    return kernel;
  }

  constructor(exports, shape, weights, offset, residual) {
    Object.assign(this, { exports, shape, offset, residual });
    this.memory = exports.memory;
    this.shapeAt = align(exports.__heap_base.value);
    this.weightsAt = align(this.shapeAt + 4 * 3 * shape.convs.length);
    this.tableAt = align(this.weightsAt + 4 * weights.length);
    this.reserve(this.tableAt);
    new Int32Array(this.memory.buffer, this.shapeAt, 3 * shape.convs.length).set(shape.convs.flat());
    new Float32Array(this.memory.buffer, this.weightsAt, weights.length).set(weights);
    this.peak = -1;
  }

  reserve(bytes) {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
  }

  run(samples, width, height, bitDepth, firstRow, row0, row1) {
    const { block, convs } = this.shape, peak = 2 ** bitDepth - 1, wide = bitDepth > 8 ? 1 : 0;
    const bytes = wide ? 2 : 1;
    const ringAt = align(this.tableAt + 4 * (peak + 1));
    const ring = this.exports.ring_floats(width, block, convs.length, this.shapeAt);
    const inAt = align(ringAt + 4 * ring), outAt = align(inAt + samples.byteLength);
    const outRows = Math.min(row1 * block, height) - row0 * block;
    this.reserve(outAt + outRows * width * bytes);
    const heap = this.memory.buffer;
    if (peak !== this.peak) { // the spec's Y / P for every sample value
      new Float32Array(heap, this.tableAt, peak + 1).set(unitTable(peak));
      this.peak = peak;
    }
    new Uint8Array(heap, inAt, samples.byteLength).set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
    const bad = this.exports.light_forward(inAt, wide, width, height, firstRow, row0, row1, this.tableAt, this.offset,
      peak, this.residual, block, convs.length, this.shapeAt, this.weightsAt, ringAt, outAt);
    if (bad) throw new FormatError("the EL's model gives non-finite values on this frame");
    return new samples.constructor(heap.slice(outAt, outAt + outRows * width * bytes));
  }
}

/** A forward for enhanceSamples that takes the samples themselves (forward.samples): the frame in bands of rows,
 * one here and one on each of threads - 1 workers (threads 0: every core); a RuntimeError for a network these
 * kernels do not run. */
export async function lightForward(d, p, { threads = 0, variant = null } = {}) {
  const shape = lightShape(d);
  if (!shape) throw new RuntimeError("the simd back end runs the light tier's network only (wasm runs any)");
  const weights = packWeights(shape, p);
  const module = await kernelModule(variant);
  const kernel = await LightKernel.create(shape, weights, d.offset, d.residual, module);
  const helpers = Math.max(0, Math.min(MAX_THREADS, threads || await cores()) - 1);
  const pool = helpers ? await workers(helpers, module) : [];
  const id = nextModel++;
  const model = { id, shape, weights, offset: d.offset, residual: d.residual };
  pool.forEach((worker) => worker.learn(model)); // now: each makes its instance (and warms it) before the first frame
  const forward = () => { throw new RuntimeError("the simd back end takes samples (enhanceSamples)"); };
  forward.samples = async (samples, width, height, bitDepth) => {
    const h = Math.ceil(height / shape.block), pairs = Math.ceil(h / 2), n = Math.min(pool.length + 1, pairs);
    const bands = Array.from({ length: n }, (_, k) => [2 * Math.floor((k * pairs) / n), Math.min(h, 2 * Math.floor(((k + 1) * pairs) / n))]);
    const halo = 2 * shape.convs.length + 2; // rows of the grid a band reads beyond its own
    const jobs = bands.slice(1).map(([row0, row1], k) => {
      const first = Math.max(0, (row0 - halo) * shape.block), end = Math.min(height, (row1 + halo) * shape.block);
      return pool[k].run(model, samples.slice(first * width, end * width), width, height, bitDepth, first, row0, row1);
    });
    const [row0, row1] = bands[0];
    const end = Math.min(height, (row1 + halo) * shape.block);
    let mine;
    try {
      mine = kernel.run(samples.subarray(0, end * width), width, height, bitDepth, 0, row0, row1);
    } catch (e) {
      await Promise.allSettled(jobs); // the workers' bands end before the error is told
      throw e;
    }
    const parts = [mine, ...(await Promise.all(jobs))];
    if (parts.length === 1) return parts[0];
    const out = new samples.constructor(width * height);
    let at = 0;
    for (const part of parts) { out.set(part, at); at += part.length; }
    return out;
  };
  forward.release = () => pool.forEach((worker) => worker.drop(id));
  return forward;
}

const MAX_THREADS = 16;
let nextModel = 0;
const pools = new Map();

async function cores() {
  if (typeof navigator !== "undefined" && navigator.hardwareConcurrency) return navigator.hardwareConcurrency;
  return inNode ? (await import("node:os")).availableParallelism() : 1;
}

/** The workers of a compiled module, shared by every model: each learns a model's weights once, when it is opened. */
async function workers(n, module) {
  if (!pools.has(module)) pools.set(module, []);
  const pool = pools.get(module);
  while (pool.length < n) pool.push(KernelWorker.start(module));
  return Promise.all(pool.slice(0, n));
}

class KernelWorker {
  static async start(module) {
    const url = new URL("./kernel_worker.js", import.meta.url);
    let port;
    if (inNode) {
      const { Worker } = await import("node:worker_threads");
      const w = new Worker(url);
      // held by the process only while it has a job: an idle pool never keeps a process alive
      port = { post: (m, t) => w.postMessage(m, t), busy: (yes) => (yes ? w.ref() : w.unref()),
        listen: (f, fail) => { w.on("message", f); w.on("error", fail); w.unref(); } };
    } else {
      const w = new Worker(url, { type: "module" });
      port = { post: (m, t) => w.postMessage(m, t), busy: () => {},
        listen: (f, fail) => { w.onmessage = (e) => f(e.data); w.onerror = (e) => fail(e); } };
    }
    return new KernelWorker(port, module);
  }

  constructor(port, module) {
    this.port = port;
    this.known = new Set();
    this.pending = new Map();
    this.next = 0;
    port.listen(({ job, out, error, kind }) => {
      const { ok, fail } = this.pending.get(job);
      this.pending.delete(job);
      if (!this.pending.size) port.busy(false);
      if (error) fail(kind === "FormatError" ? new FormatError(error) : new RuntimeError(`a kernel worker: ${error}`));
      else ok(out);
    }, (e) => {
      this.broken = new RuntimeError(`a kernel worker failed: ${e.message ?? e}`);
      for (const { fail } of this.pending.values()) fail(this.broken);
      this.pending.clear();
      port.busy(false);
    });
    port.post({ module });
  }

  run(model, samples, width, height, bitDepth, firstRow, row0, row1) {
    if (this.broken) return Promise.reject(this.broken);
    this.learn(model);
    const job = this.next++;
    return new Promise((ok, fail) => {
      this.pending.set(job, { ok, fail });
      this.port.busy(true);
      this.port.post({ job, id: model.id, samples, width, height, bitDepth, firstRow, row0, row1 }, [samples.buffer]);
    });
  }

  learn(model) {
    if (!this.known.has(model.id)) { this.port.post({ model }); this.known.add(model.id); }
  }

  drop(id) {
    if (this.known.delete(id)) this.port.post({ drop: id });
  }
}
