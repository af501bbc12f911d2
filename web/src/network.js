// Running a model on a plane (schemas/EL_v2.md "The network", "Running a model on a frame"), on the CPU in plain
// JavaScript: float32 storage, each value rounded to binary32 as it is stored (the spec leaves the order of
// summation free; its tolerance covers the rest). The reference path every faster back end is held to.
import { FormatError } from "./errors.js";
import { OP } from "./format.js";

function conv(x, h, w, weights, bias, cin, cout, k, relu) {
  const out = new Float32Array(cout * h * w), r = k >> 1, acc = new Float64Array(w);
  for (let o = 0; o < cout; o++) {
    for (let y = 0; y < h; y++) {
      acc.fill(bias[o]);
      for (let c = 0; c < cin; c++) {
        for (let dy = 0; dy < k; dy++) {
          const sy = y + dy - r;
          if (sy < 0 || sy >= h) continue;
          const row = (c * h + sy) * w;
          for (let dx = 0; dx < k; dx++) {
            const wt = weights[((o * cin + c) * k + dy) * k + dx];
            if (wt === 0) continue;
            const x0 = Math.max(0, r - dx), x1 = Math.min(w, w + r - dx);
            for (let xx = x0; xx < x1; xx++) acc[xx] += wt * x[row + xx + dx - r];
          }
        }
      }
      const base = (o * h + y) * w;
      for (let xx = 0; xx < w; xx++) out[base + xx] = relu && acc[xx] < 0 ? 0 : acc[xx];
    }
  }
  return out;
}

function boxMean(x, ch, h, w, k) {
  const out = new Float32Array(ch * h * w), r = k >> 1;
  for (let c = 0; c < ch; c++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    let s = 0;
    for (let sy = Math.max(0, y - r); sy <= Math.min(h - 1, y + r); sy++)
      for (let sx = Math.max(0, xx - r); sx <= Math.min(w - 1, xx + r); sx++) s += x[(c * h + sy) * w + sx];
    out[(c * h + y) * w + xx] = s / (k * k);
  }
  return out;
}

function unshuffle(x, ch, h, w, r) { // channel c r^2 + i r + j holds sample (i, j) of each r x r block
  const H = h / r, W = w / r, out = new Float32Array(x.length);
  for (let c = 0; c < ch; c++) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++)
    for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++)
      out[((c * r * r + i * r + j) * H + y) * W + xx] = x[(c * h + y * r + i) * w + xx * r + j];
  return out;
}

function shuffle(x, ch, h, w, r) {
  const C = ch / (r * r), out = new Float32Array(x.length);
  for (let c = 0; c < C; c++) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++)
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++)
      out[(c * h * r + y * r + i) * w * r + xx * r + j] = x[((c * r * r + i * r + j) * h + y) * w + xx];
  return out;
}

/** The network in plain JavaScript: (u, H, W) -> v for a plane u already extended to multiples of the block with
 * the input offset (zeros after centring), v = u + the network's output with the global residual. */
export function jsForward(d, p) {
  return (u, H, W) => {
    const centred = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) centred[i] = u[i] - d.offset;
    const nodes = [{ t: centred, ch: 1, s: 1 }];
    for (const [op, a, b, c] of d.nodes) {
      const n = nodes[a], h = H / n.s, w = W / n.s;
      if (op === OP.UNSHUFFLE) { nodes.push({ t: unshuffle(n.t, n.ch, h, w, b), ch: n.ch * b * b, s: n.s * b }); continue; }
      if (op === OP.SHUFFLE) { nodes.push({ t: shuffle(n.t, n.ch, h, w, b), ch: n.ch / (b * b), s: n.s / b }); continue; }
      if (op === OP.CONV) {
        const [ci, co, k] = d.layers[b];
        nodes.push({ t: conv(n.t, h, w, p.folded[b], p.biasOf[b], ci, co, k, c === 1), ch: co, s: n.s });
      } else if (op === OP.ADD) {
        const o = nodes[b].t, t = new Float32Array(n.t.length);
        for (let i = 0; i < t.length; i++) { const v = n.t[i] + o[i]; t[i] = c && v < 0 ? 0 : v; }
        nodes.push({ t, ch: n.ch, s: n.s });
      } else { // squeeze-excitation: the gate is a 1x1 conv of the box mean, through a sigmoid
        const gate = conv(boxMean(n.t, n.ch, h, w, c), h, w, p.folded[b], p.biasOf[b], n.ch, n.ch, 1, false);
        const t = new Float32Array(n.t.length);
        for (let i = 0; i < t.length; i++) t[i] = n.t[i] * Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-gate[i]))));
        nodes.push({ t, ch: n.ch, s: n.s });
      }
    }
    const last = nodes.at(-1).t;
    if (!d.residual) return last;
    const v = new Float32Array(u.length);
    for (let i = 0; i < v.length; i++) v[i] = u[i] + last[i];
    return v;
  };
}

const ROUND = 2 ** 52; // x + 2^52 - 2^52 rounds a binary64 0 <= x < 2^51 to an integer, halves to even

/** The spec's steps around the network for one plane: u = Y / P (binary32; a table of the P + 1 values), extended
 * to multiples of the block with the input offset, ``forward`` (sync or async) to v, cropped, refused when not
 * finite, then round_half_even(min(max(v, 0), 1) P) (the product in binary32) in the samples' own type. */
export async function enhanceSamples(forward, d, samples, width, height, bitDepth) {
  if (forward.samples) return forward.samples(samples, width, height, bitDepth); // every step in one kernel
  const peak = 2 ** bitDepth - 1, block = d.block;
  const H = Math.ceil(height / block) * block, W = Math.ceil(width / block) * block;
  const table = unitTable(peak);
  const u = new Float32Array(H * W);
  if (W === width) { // one flat loop (twice as fast as rows in V8) where no column is added
    for (let i = 0; i < samples.length; i++) u[i] = table[samples[i]];
    u.fill(d.offset, samples.length);
  } else {
    u.fill(d.offset);
    for (let y = 0; y < height; y++) for (let x = 0, a = y * width, b = y * W; x < width; x++) u[b + x] = table[samples[a + x]];
  }
  const v = await forward(u, H, W);
  const out = new samples.constructor(width * height);
  if (W === width) toSamples(v, 0, out, 0, out.length, peak);
  else for (let y = 0; y < height; y++) toSamples(v, y * W, out, y * width, width, peak);
  return out;
}

function toSamples(v, from, out, to, n, peak) {
  for (let i = 0; i < n; i++) {
    const t = v[from + i];
    if (t - t !== 0) throw new FormatError("the EL's model gives non-finite values on this frame"); // NaN, +-inf
    out[to + i] = Math.fround((t < 0 ? 0 : t > 1 ? 1 : t) * peak) + ROUND - ROUND;
  }
}

const TABLES = new Map();
export function unitTable(peak) { // Y / P for every sample value, each one correctly rounded binary32 division
  if (!TABLES.has(peak)) TABLES.set(peak, Float32Array.from({ length: peak + 1 }, (_, y) => y / peak));
  return TABLES.get(peak);
}

/** One plane through the plain JavaScript network (the reference path). */
export function runModel(d, p, samples, width, height, bitDepth) {
  return enhanceSamples(jsForward(d, p), d, samples, width, height, bitDepth);
}
