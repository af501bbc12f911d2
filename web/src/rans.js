// Integer models and the rANS decoder (schemas/EL_v2.md "Integer models", "Entropy coding (rANS)"): 16-bit
// frequencies, 32-bit lane states renormalised by 16-bit words. States stay below 2^32, so plain numbers hold
// them exactly (no bitwise operators: those are 32-bit signed).
import { FormatError } from "./errors.js";

export function histogram(r) {
  const h = { kind: r.u8(), lo: r.svar(), hi: r.svar() };
  const n = r.uvar();
  if (h.kind > 1 || Math.max(Math.abs(h.lo), Math.abs(h.hi)) > 32768 || !(h.hi - h.lo >= 0 && h.hi - h.lo < 4096)
      || n !== (h.kind === 0 ? h.hi - h.lo + 1 : 0))
    throw new FormatError("a histogram's kind, range or count beyond the rules");
  h.counts = [];
  for (let k = 0; k < n; k++) h.counts.push(r.uvar());
  if (h.counts.some((c) => c > 2 ** 20)) throw new FormatError("a histogram count beyond 2^20");
  if (h.kind === 1) {
    h.center = r.svar();
    h.decay = r.u16();
    if (!(h.lo <= h.center && h.center <= h.hi) || h.decay < 1)
      throw new FormatError("a geometric histogram's centre or decay beyond the rules");
  }
  return h;
}

/** G[0..reach] of a kind-1 histogram: the integer recurrence (not a power computed in floating point). */
export function weightTable(decay, reach) {
  const g = [2 ** 24];
  while (g.length <= reach) g.push(Math.max(1, Math.floor(g.at(-1) * decay / 65536)));
  return g;
}

export function modelWeights(h) {
  if (h.kind === 0) return h.counts;
  const g = weightTable(h.decay, Math.max(h.center - h.lo, h.hi - h.center));
  const w = [];
  for (let s = h.lo; s <= h.hi; s++) w.push(g[Math.abs(s - h.center)]);
  return w;
}

/** 16-bit frequencies: each used symbol at least 1, the rest in proportion, the remainder to the first largest. */
export function frequencies(w) {
  const n = w.filter((v) => v).length, total = w.reduce((a, b) => a + b, 0);
  const f = w.map((v) => (v ? 1 + Math.floor(v * (65536 - n) / total) : 0));
  f[w.indexOf(Math.max(...w))] += 65536 - f.reduce((a, b) => a + b, 0);
  return f;
}

/** A symbol table for decoding: frequencies, cumulative starts and the symbol of each of the 65536 slots. */
export function symbolTable(f, lo) {
  const starts = new Uint32Array(f.length), slots = new Uint16Array(65536);
  let c = 0;
  f.forEach((v, s) => { starts[s] = c; slots.fill(s, c, c + v); c += v; });
  return { f, starts, slots, lo };
}

/** The symbols of ``sequence`` (a symbol table per coded symbol, in order) from the interleaved lanes. */
export function ransDecode(coded, lanes, sequence) {
  if (!sequence.length) {
    if (lanes || coded.length) throw new FormatError("a stream without coded symbols");
    return new Int32Array(0);
  }
  if (lanes < 1 || lanes > Math.min(sequence.length, 64) || coded.length % 2 || coded.length < 4 * lanes)
    throw new FormatError("lane count or stream size");
  const view = new DataView(coded.buffer, coded.byteOffset, coded.byteLength);
  const state = [];
  for (let j = 0; j < lanes; j++) state.push(view.getUint32(4 * j, true));
  if (Math.min(...state) < 65536) throw new FormatError("a lane state below 2^16");
  const words = (coded.length - 4 * lanes) / 2;
  const out = new Int32Array(sequence.length);
  let read = 0;
  for (let i = 0; i < sequence.length; i++) {
    const t = sequence[i], j = i % lanes;
    let x = state[j];
    const slot = x % 65536, s = t.slots[slot];
    out[i] = t.lo + s;
    x = t.f[s] * Math.floor(x / 65536) + slot - t.starts[s];
    if (x < 65536) {
      if (read === words) throw new FormatError("stream ends early");
      x = x * 65536 + view.getUint16(4 * lanes + 2 * read++, true);
    }
    state[j] = x;
  }
  if (read !== words || state.some((x) => x !== 65536)) throw new FormatError("stream does not end with its symbols");
  return out;
}
