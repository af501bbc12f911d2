// The EL's containers (schemas/EL_v2.md "Layout", "Tiered ELs", "Colour ELs") and its network descriptor
// ("The network"): parsing and every rule a reader checks. Entropy coding and rebuilding live in rans.js, rebuild.js.
import { Reader, crc32 } from "./bytes.js";
import { FormatError, UnsupportedVersionError } from "./errors.js";

export const MAGIC = [0x4d, 0x54, 0x56, 0x52]; // "MTVR"
export const MAX_FILE = 1 << 24;
const KNOWN_MINOR = 1; // minor 1 adds the unshuffle and shuffle ops
export const OP = { CONV: 1, ADD: 2, SE: 3, UNSHUFFLE: 4, SHUFFLE: 5 };
export const TIER_KINDS = { 1: "light", 2: "full", 3: "heavy" };
export const PLANE_BITS = { y: 1, u: 2, v: 4 };

/** The EL version of a file (1-4), after its magic; a FormatError for anything else. */
export function version(data) {
  if (!(data instanceof Uint8Array)) throw new TypeError("an EL is a Uint8Array");
  if (data.length > MAX_FILE) throw new FormatError(`an EL of ${data.length} bytes: beyond the 16 MiB limit`);
  if (data.length < 6 || MAGIC.some((b, i) => data[i] !== b)) throw new FormatError("not an MTVIR EL (no MTVR magic)");
  const v = data[4];
  if (v === 1) throw new UnsupportedVersionError("an EL of version 1: this decoder reads versions 2-4 (decode it with the Python SDK, or export it again)");
  if (v < 1 || v > 4) throw new UnsupportedVersionError(`an EL of version ${v}: this decoder reads versions 2-4`);
  return v;
}

function checkCrc(data) {
  const stored = new DataView(data.buffer, data.byteOffset + data.length - 4, 4).getUint32(0, true);
  if (crc32(data.subarray(0, data.length - 4)) !== stored) throw new FormatError("CRC mismatch: the EL is damaged");
}

/** An EL v2 file: header fields, its descriptor (or null) and each model's frames and payload reader. */
export function parse(data) {
  if (version(data) !== 2 || data.length < 10) throw new FormatError("not an EL v2 file");
  checkCrc(data);
  const r = new Reader(data, 5, data.length - 4);
  const minor = r.u8();
  const el = { minor, width: r.u16(), height: r.u16(), bitDepth: r.u8(), frameCount: r.u32(), referenceId: r.raw(16),
    complexity: [r.u32(), r.u32(), r.u16()] };
  if (el.width > 16384 || el.height > 16384 || !(el.bitDepth === 0 || (el.bitDepth >= 8 && el.bitDepth <= 16))
      || el.frameCount > 2 ** 30 || el.complexity[0] > 2 ** 20) throw new FormatError("a header field beyond its limit");
  const size = r.u16();
  if (size > 4096) throw new FormatError("descriptor_size beyond its limit");
  el.descriptor = size ? descriptor(r.sub(size), minor) : null;
  el.models = [];
  for (let n = r.u8(), k = 0; k < n; k++) {
    const first = r.u32(), count = r.u32(), bytes = r.u32();
    if (first > 2 ** 30 || count < 1 || count > 2 ** 30 || bytes < 1 || bytes > 2 ** 22)
      throw new FormatError("a model's frames or payload size beyond its limits");
    el.models.push({ first, count, payload: r.sub(bytes) });
  }
  if (r.pos !== r.end) throw new FormatError("bytes before the CRC left over");
  return el;
}

/** Versioning: a later minor version may append fields that this reader skips; minors 0 and 1 allow none. */
export function endOfStruct(r, minor) {
  if (r.pos !== r.end && minor <= KNOWN_MINOR) throw new FormatError("a length-delimited struct with trailing bytes");
}

export function descriptor(r, minor) {
  const d = { S: r.u16(), offset: r.f32(), residual: r.u8(), layers: [], nodes: [] };
  for (let n = r.u8(), k = 0; k < n; k++) d.layers.push([r.u8(), r.u8(), r.u8()]); // (cin, cout, k)
  for (let n = r.u8(), k = 0; k < n; k++) d.nodes.push([r.u8(), r.u8(), r.u8(), r.u8()]); // (op, a, b, c)
  endOfStruct(r, minor);
  checkNetwork(d);
  if (minor === 0 && d.nodes.some(([op]) => op === OP.UNSHUFFLE || op === OP.SHUFFLE))
    throw new FormatError("unshuffle or shuffle in a minor-0 file");
  return d;
}

/** Every field in range, every operand and channel count consistent, every layer used by exactly one node, one
 * output channel at scale 1; sets d.scales (each node's scale) and d.block (the largest). */
export function checkNetwork(d) {
  const { layers, nodes } = d;
  if (!(d.S >= 1 && d.S <= 1024) || !(d.offset >= -1 && d.offset <= 1) || (d.residual !== 0 && d.residual !== 1)
      || layers.length < 1 || layers.length > 64 || nodes.length < 1 || nodes.length > 128)
    throw new FormatError("a descriptor field beyond its limits (or a NaN input offset)");
  if (layers.some(([ci, co, k]) => !(ci >= 1 && ci <= 64 && co >= 1 && co <= 64 && [1, 3, 5, 7].includes(k))))
    throw new FormatError("a layer beyond its limits");
  const channels = [1], scales = [1], used = [];
  nodes.forEach(([op, a, b, c], k) => {
    const i = k + 1;
    if (op === OP.CONV && a < i && b < layers.length && c <= 1 && channels[a] === layers[b][0]) {
      channels.push(layers[b][1]); scales.push(scales[a]); used.push(b);
    } else if (op === OP.ADD && a < i && b < i && c <= 1 && channels[a] === channels[b] && scales[a] === scales[b]) {
      channels.push(channels[a]); scales.push(scales[a]);
    } else if (op === OP.SE && a < i && b < layers.length && c % 2 === 1 && c <= 31 && layers[b][2] === 1
               && layers[b][0] === channels[a] && layers[b][1] === channels[a]) {
      channels.push(channels[a]); scales.push(scales[a]); used.push(b);
    } else if (op === OP.UNSHUFFLE && a < i && b >= 2 && b <= 8 && c === 0 && channels[a] * b * b <= 64
               && scales[a] * b <= 64) {
      channels.push(channels[a] * b * b); scales.push(scales[a] * b);
    } else if (op === OP.SHUFFLE && a < i && b >= 2 && b <= 8 && c === 0 && channels[a] % (b * b) === 0
               && scales[a] % b === 0) {
      channels.push(channels[a] / (b * b)); scales.push(scales[a] / b);
    } else {
      throw new FormatError(`node ${i}: an op, operand or channel count the spec does not allow`);
    }
  });
  used.sort((x, y) => x - y);
  if (used.length !== layers.length || used.some((l, k) => l !== k) || channels.at(-1) !== 1 || scales.at(-1) !== 1)
    throw new FormatError("a layer not used exactly once, or an output of more than one channel or not at scale 1");
  d.scales = scales;
  d.block = Math.max(...scales);
}

export function descriptorBytes(d) {
  const out = new Uint8Array(9 + 3 * d.layers.length + 4 * d.nodes.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, d.S, true); v.setFloat32(2, d.offset, true); out[6] = d.residual; out[7] = d.layers.length;
  let at = 8;
  for (const l of d.layers) { out.set(l, at); at += 3; }
  out[at++] = d.nodes.length;
  for (const n of d.nodes) { out.set(n, at); at += 4; }
  return out;
}

export function sameDescriptor(a, b) {
  const same = (x, y) => x.length === y.length && x.every((t, i) => t.every((v, j) => v === y[i][j]));
  return a.S === b.S && a.offset === b.offset && a.residual === b.residual && same(a.layers, b.layers)
    && same(a.nodes, b.nodes);
}

/** [param_count, macs_per_pixel, receptive_radius]: MACs of a node at scale s count 1 / s^2, the exact sum rounded
 * up (exact in BigInt rationals over the least common multiple of the squared scales). */
export function complexity(d) {
  const { layers, scales, nodes } = d;
  const gcd = (x, y) => (y ? gcd(y, x % y) : x);
  let den = 1n;
  nodes.forEach(([op], k) => { if (op === OP.CONV || op === OP.SE) { const s = BigInt(scales[k + 1]) ** 2n; den = den / gcd(den, s) * s; } });
  let num = 0n;
  nodes.forEach(([op, , b], k) => {
    if (op !== OP.CONV && op !== OP.SE) return;
    const [ci, co, kk] = layers[b];
    num += BigInt(ci * co * kk * kk + (op === OP.SE ? co : 0)) * (den / BigInt(scales[k + 1]) ** 2n);
  });
  const macs = Number((num + den - 1n) / den);
  const radius = [0];
  nodes.forEach(([op, a, b, c], k) => {
    const s = scales[k + 1];
    radius.push(op === OP.CONV ? radius[a] + Math.floor(layers[b][2] / 2) * s
      : op === OP.ADD ? Math.max(radius[a], radius[b])
      : op === OP.SE ? radius[a] + Math.floor(c / 2) * s
      : op === OP.UNSHUFFLE ? radius[a] + (b - 1) * scales[a] : radius[a]);
  });
  const weights = layers.reduce((n, [ci, co, kk]) => n + ci * co * kk * kk + co, 0);
  return [weights, macs, radius.at(-1)];
}

/** The table of a tiered EL (v3): frame facts [width, height, bit depth, frame count] and, per tier name,
 * { complexity, body }. */
export function tierTable(data) {
  if (version(data) !== 3 || data.length < 20) throw new FormatError("not a tiered EL");
  const r = new Reader(data, 6);
  const facts = [r.u16(), r.u16(), r.u8(), r.u32()];
  const count = r.u8();
  if (facts[0] > 16384 || facts[1] > 16384 || facts[2] > 16 || facts[3] > 2 ** 30 || count < 1 || count > 8)
    throw new FormatError("a tier table field beyond its limit");
  const rows = [];
  for (let k = 0; k < count; k++) rows.push({ kind: r.u8(), cost: [r.u32(), r.u32(), r.u16()], size: r.u32() });
  if (crc32(data.subarray(0, r.pos)) !== r.u32()) throw new FormatError("tier table CRC mismatch");
  let pos = r.pos;
  checkRows(rows.map((row) => row.kind), rows.map((row) => row.size), pos, data.length);
  if (rows.some((row) => row.cost[0] > 2 ** 20)) throw new FormatError("a tier's figures beyond their limits");
  const tiers = {};
  for (const row of rows) { tiers[TIER_KINDS[row.kind]] = { complexity: row.cost, body: data.subarray(pos, pos + row.size) }; pos += row.size; }
  return { facts, tiers };
}

function checkRows(kinds, sizes, start, length) {
  if (kinds.some((k) => !TIER_KINDS[k]) || kinds.some((k, i) => i && k <= kinds[i - 1])
      || sizes.some((s) => s < 1 || s > MAX_FILE) || start + sizes.reduce((n, s) => n + s, 0) !== length)
    throw new FormatError("tier kinds out of order, or sizes beyond limits or not adding up to the file");
}

/** The table of a colour EL (v4): frame facts, chroma format (0 4:0:0, 1 4:2:0, 2 4:2:2, 3 4:4:4) and, per tier
 * name, its entries { mask, complexity, body }. */
export function colourTable(data) {
  if (version(data) !== 4 || data.length < 21) throw new FormatError("not a colour EL");
  const r = new Reader(data, 6);
  const facts = [r.u16(), r.u16(), r.u8(), r.u32()];
  const format = r.u8(), count = r.u8();
  if (facts[0] > 16384 || facts[1] > 16384 || facts[2] > 16 || facts[3] > 2 ** 30 || format > 3 || count < 1 || count > 8)
    throw new FormatError("a colour table field beyond its limit");
  const rows = [];
  for (let k = 0; k < count; k++) {
    const kind = r.u8(), cost = [r.u32(), r.u32(), r.u16()], n = r.u8();
    if (n < 1 || n > 3) throw new FormatError("an entry count beyond its limit");
    const entries = [];
    for (let e = 0; e < n; e++) entries.push({ mask: r.u8(), complexity: [r.u32(), r.u32(), r.u16()], size: r.u32() });
    rows.push({ kind, cost, entries });
  }
  if (crc32(data.subarray(0, r.pos)) !== r.u32()) throw new FormatError("colour table CRC mismatch");
  let pos = r.pos;
  checkRows(rows.map((row) => row.kind), rows.flatMap((row) => row.entries.map((e) => e.size)), pos, data.length);
  const perLuma = { 0: 0, 1: 0.25, 2: 0.5, 3: 1 }[format];
  const tiers = {};
  for (const { kind, cost, entries } of rows) {
    const masks = entries.map((e) => e.mask), low = (m) => m & -m;
    if (entries.some((e) => e.mask < 1 || e.mask > 7 || e.complexity[0] > 2 ** 20)
        || masks.some((m, i) => i && low(m) < low(masks[i - 1]))
        || masks.some((m, i) => masks.slice(i + 1).some((o) => m & o))
        || masks.some((m) => ((m & 6) && format === 0) || ((m & 1) && (m & 6) && format !== 3)))
      throw new FormatError("plane entries overlapping, out of order, or naming planes the chroma format lacks");
    let macs = 0;
    for (const e of entries) for (const bit of [1, 2, 4]) if (e.mask & bit) macs += e.complexity[1] * (bit === 1 ? 1 : perLuma);
    const want = [entries.reduce((n, e) => n + e.complexity[0], 0), Math.ceil(macs), Math.max(...entries.map((e) => e.complexity[2]))];
    if (want.some((v, i) => v !== cost[i])) throw new FormatError("a tier's figures differ from its entries'");
    tiers[TIER_KINDS[kind]] = entries.map((e) => { const body = data.subarray(pos, pos + e.size); pos += e.size; return { mask: e.mask, complexity: e.complexity, body }; });
  }
  return { facts, format, tiers };
}

export function planeSize(width, height, format, plane) {
  if (plane === "y" || format === 3) return [width, height];
  return [Math.ceil(width / 2), format === 1 ? Math.ceil(height / 2) : height];
}
