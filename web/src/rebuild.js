// A model's parameters from its payload (schemas/EL_v2.md "Rebuilding a model"): the integer weights (residues
// on the reference's, or absolute), the float parameters (kept, deltas, or raw), then the folded conv weights.
// Float arithmetic is binary64 with one rounding to binary32 (Math.fround), as the spec says.
import { FormatError } from "./errors.js";
import { endOfStruct } from "./format.js";
import { histogram, modelWeights, frequencies, symbolTable, ransDecode } from "./rans.js";

const KINDS = ["biases", "scale", "shift"];

/** @returns {{weights: Int16Array[], biases: Float32Array, scale: Float32Array, shift: Float32Array}} */
export function rebuild(r, d, ref, minor) {
  const modes = r.u8();
  const wmode = modes & 3, fmodes = [2, 4, 6].map((s) => (modes >> s) & 3);
  const exps = [r.i8(), r.i8(), r.i8()];
  const mask = r.raw(r.u8());
  const hists = [];
  for (let n = r.u8(), k = 0; k < n; k++) hists.push(histogram(r));
  const nRaw = r.uvar();
  if (nRaw > 8192) throw new FormatError("raw_count beyond 8192");
  const raw = [];
  for (let k = 0; k < nRaw; k++) raw.push(r.f32());
  const lanes = r.u8();
  const coded = r.raw(r.uvar());
  endOfStruct(r, minor);
  if ([wmode, ...fmodes].includes(3)) throw new FormatError("a reserved mode");
  if (exps.some((e, k) => e < -40 || e > 8 || (e && fmodes[k] !== 1)))
    throw new FormatError("a step exponent beyond -40..8, or set for a kind not in mode 1");
  if (!ref && (wmode !== 2 || fmodes.some((m) => m !== 2))) throw new FormatError("a self-contained model must be absolute");
  const L = d.layers.length;
  const sizes = d.layers.map(([ci, co, k]) => co * ci * k * k);
  const bit = (l) => (mask[l >> 3] >> (l & 7)) & 1;
  if (mask.length !== (wmode === 1 ? (L + 7) >> 3 : 0) || [...Array(8 * mask.length).keys()].some((l) => l >= L && bit(l)))
    throw new FormatError("a layer mask of the wrong size, or marking layers that do not exist");
  const present = [...Array(L).keys()].filter((l) => wmode === 2 || (wmode === 1 && bit(l)));
  const kinds = [0, 1, 2].filter((k) => fmodes[k] === 1);
  const counts = [d.layers.reduce((n, [, co]) => n + co, 0), L, L];
  const nWeightGroups = hists.length - kinds.length;
  let groups;
  if (!present.length && nWeightGroups === 0) groups = [];
  else if (present.length && nWeightGroups === 1) groups = [present.reduce((n, l) => n + sizes[l], 0)];
  else if (nWeightGroups === present.length) groups = present.map((l) => sizes[l]);
  else throw new FormatError("histogram count");
  groups.push(...kinds.map((k) => counts[k]));
  const sequence = [], constants = [];
  hists.forEach((h, g) => {
    const w = modelWeights(h), used = [];
    w.forEach((v, s) => { if (v) used.push(s); });
    if (h.kind === 0 && w.reduce((a, b) => a + b, 0) !== groups[g]) throw new FormatError("counts do not sum to the group size");
    if (used.length === 1) { constants.push(h.lo + used[0]); return; }
    constants.push(null);
    const table = symbolTable(frequencies(w), h.lo);
    for (let k = 0; k < groups[g]; k++) sequence.push(table);
  });
  const decoded = ransDecode(coded, lanes, sequence);
  let at = 0;
  const ints = groups.map((n, g) => {
    if (constants[g] !== null) return new Int32Array(n).fill(constants[g]);
    at += n;
    return decoded.subarray(at - n, at);
  });
  hists.forEach((h, g) => {
    if (h.kind !== 0) return;
    const seen = new Map();
    for (const v of ints[g]) seen.set(v, (seen.get(v) || 0) + 1);
    if (h.counts.some((c, i) => c && seen.get(h.lo + i) !== c)) throw new FormatError("decoded symbols do not match their counts");
  });
  const weightInts = ints.slice(0, ints.length - kinds.length);
  const flat = weightInts.length === 1 ? weightInts[0] : Int32Array.from(weightInts.flatMap((g) => [...g]));
  const deltas = Object.fromEntries(kinds.map((k, i) => [k, ints[ints.length - kinds.length + i]]));
  const weights = [];
  let pos = 0;
  d.layers.forEach((_, l) => {
    const w = new Int32Array(sizes[l]);
    if (wmode !== 2) w.set(ref.weights[l]);
    if (present.includes(l)) {
      for (let i = 0; i < sizes[l]; i++) w[i] += flat[pos + i];
      pos += sizes[l];
    }
    if (w.some((v) => v > 32767 || v < -32767)) throw new FormatError("a rebuilt integer weight beyond -32767..32767");
    weights.push(Int16Array.from(w));
  });
  const out = { weights };
  let rawPos = 0;
  KINDS.forEach((name, k) => {
    let v;
    if (fmodes[k] === 0) v = Float32Array.from(ref[name]);
    else if (fmodes[k] === 2) {
      if (rawPos + counts[k] > raw.length) throw new FormatError("raw values too few");
      v = Float32Array.from(raw.slice(rawPos, rawPos + counts[k]));
      rawPos += counts[k];
    } else {
      const step = 2 ** exps[k], q = deltas[k], base = ref[name];
      v = Float32Array.from(base, (b, i) => (name === "scale" ? b * (1 + q[i] * step) : b + q[i] * step));
    }
    if (v.length !== counts[k] || v.some((x) => !Number.isFinite(x))) throw new FormatError(`a non-finite ${name}`);
    out[name] = v;
  });
  if (rawPos !== raw.length) throw new FormatError("raw values left over");
  return out;
}

/** The conv weights: binary32((a (W_Q / S)) + t), each operation in binary64; per layer OIHW. Biases split per layer. */
export function fold(p, d) {
  p.folded = p.weights.map((w, l) => Float32Array.from(w, (q) => p.scale[l] * (q / d.S) + p.shift[l]));
  if (p.folded.some((w) => w.some((x) => !Number.isFinite(x)))) throw new FormatError("a model that folds into non-finite conv weights");
  let at = 0;
  p.biasOf = d.layers.map(([, co]) => p.biases.subarray(at, (at += co)));
  return p;
}

/** The parameters as the reference id and the vectors hash them: W_Q int16, then biases, scales, shifts f32 (LE). */
export function paramsBytes(p) {
  const n = p.weights.reduce((a, w) => a + 2 * w.length, 0) + 4 * (p.biases.length + p.scale.length + p.shift.length);
  const out = new Uint8Array(n), v = new DataView(out.buffer);
  let at = 0;
  for (const w of p.weights) for (const q of w) { v.setInt16(at, q, true); at += 2; }
  for (const a of [p.biases, p.scale, p.shift]) for (const x of a) { v.setFloat32(at, x, true); at += 4; }
  return out;
}

export function foldedBytes(p) {
  const out = new Uint8Array(p.folded.reduce((a, w) => a + 4 * w.length, 0)), v = new DataView(out.buffer);
  let at = 0;
  for (const w of p.folded) for (const x of w) { v.setFloat32(at, x, true); at += 4; }
  return out;
}
