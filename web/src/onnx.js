// The network as an ONNX model (the SDK's graph.py, the same nodes but for its strided tail: on ONNX Runtime Web's
// WASM kernels that ran the light network 1.11-1.13x slower at 720p, so the last convolution and its shuffle stay as
// the descriptor says): standard ops only, written as protobuf bytes (field numbers of onnx.proto, IR 8, opset 17)
// for ONNX Runtime Web. Input "luma" float32 [1, 1, H, W] in [0, 1], H and W multiples of the network's block;
// output "enhanced", same shape, not yet clipped.
import { OP } from "./format.js";

const FLOAT = 1, INT64 = 7, INTS_ATTR = 7, INT_ATTR = 2, STRING_ATTR = 3;
const utf8 = new TextEncoder();

function varint(value) { // LEB128 of a non-negative integer below 2^53
  const out = [];
  let v = value;
  while (v > 0x7f) { out.push((v % 128) | 0x80); v = Math.floor(v / 128); }
  out.push(v);
  return Uint8Array.from(out);
}
function cat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
const int = (field, v) => cat([varint(field << 3), varint(v)]);
const bytes = (field, v) => { const d = typeof v === "string" ? utf8.encode(v) : v; return cat([varint((field << 3) | 2), varint(d.length), d]); };

function node(op, inputs, outputs, attrs = {}) {
  const parts = [...inputs.map((n) => bytes(1, n)), ...outputs.map((n) => bytes(2, n)), bytes(4, op)];
  for (const name of Object.keys(attrs).sort()) {
    const v = attrs[name];
    const attr = Array.isArray(v) ? cat([bytes(1, name), ...v.map((x) => int(8, x)), int(20, INTS_ATTR)])
      : typeof v === "string" ? cat([bytes(1, name), bytes(4, v), int(20, STRING_ATTR)])
      : cat([bytes(1, name), int(3, v), int(20, INT_ATTR)]);
    parts.push(bytes(5, attr));
  }
  return cat(parts);
}

function tensor(name, dims, values, type = FLOAT) {
  const raw = type === FLOAT ? new Uint8Array(Float32Array.from(values).buffer)
    : new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer); // little-endian hosts (every browser)
  return cat([...dims.map((d) => int(1, d)), int(2, type), bytes(8, name), bytes(9, raw)]);
}

function valueInfo(name, shape) {
  const dims = cat(shape.map((d) => bytes(1, typeof d === "string" ? bytes(2, d) : int(1, d))));
  return cat([bytes(1, name), bytes(2, bytes(1, cat([int(1, FLOAT), bytes(2, dims)])))]);
}

/** Channels of each node (node 0: the plane). */
function channels(d) {
  const ch = [1];
  for (const [op, a, b] of d.nodes) {
    ch.push(op === OP.CONV ? d.layers[b][1] : op === OP.UNSHUFFLE ? ch[a] * b * b : op === OP.SHUFFLE ? ch[a] / (b * b) : ch[a]);
  }
  return ch;
}

/** Unshuffles of a single plane read by one convolution alone: {unshuffle's node: [its source, block]}. The pair
 * is one convolution of the plane with an (r k) x (r k) kernel and stride r: the same sums, without SpaceToDepth's
 * pass over the plane (graph.py's _strided_heads). */
function stridedHeads(d, ch) {
  const heads = {};
  d.nodes.forEach(([op, a, b], k) => {
    const i = k + 1, readers = d.nodes.filter(([o, x, y]) => x === i || (o === OP.ADD && y === i));
    if (op === OP.UNSHUFFLE && ch[a] === 1 && readers.length === 1 && readers[0][0] === OP.CONV) heads[i] = [a, b];
  });
  return heads;
}

/** A k x k kernel over an r x r unshuffle's r^2 channels as one (r k) x (r k) kernel over the plane: tap (ky, kx) of
 * channel i r + j lands on row r ky + i, column r kx + j. */
function asStrided(w, cout, r, k) {
  const out = new Float32Array(cout * r * k * r * k);
  for (let o = 0; o < cout; o++) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++)
    for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++)
      out[((o * r * k) + r * ky + i) * r * k + r * kx + j] = w[(((o * r * r) + i * r + j) * k + ky) * k + kx];
  return out;
}

/** @returns {Uint8Array} a serialized ModelProto of the network with its folded weights. */
export function buildGraph(d, p) {
  const nodes = [], inits = [], ch = channels(d), heads = stridedHeads(d, ch);
  const konst = (name, dims, values) => { inits.push(tensor(name, dims, values)); return name; };
  nodes.push(node("Sub", ["luma", "offset"], ["centred"]));
  inits.push(tensor("offset", [], [d.offset]));
  const names = ["centred"];
  const relu = (out, act) => { if (!act) return out; nodes.push(node("Relu", [out], [out + "_relu"])); return out + "_relu"; };
  d.nodes.forEach(([op, a, b, c], k) => {
    const i = k + 1;
    let out = `n${i}`;
    if (op === OP.CONV && heads[a]) { // the unshuffle it alone reads and this convolution: one of stride r
      const [ci, co, kk] = d.layers[b], [src, r] = heads[a];
      nodes.push(node("Conv", [names[src], konst(`w${b}`, [co, 1, r * kk, r * kk], asStrided(p.folded[b], co, r, kk)),
        konst(`b${b}`, [co], p.biasOf[b])], [out], { kernel_shape: [r * kk, r * kk], pads: Array(4).fill(r * (kk >> 1)), strides: [r, r] }));
      out = relu(out, c);
    } else if (op === OP.CONV) {
      const [ci, co, kk] = d.layers[b];
      nodes.push(node("Conv", [names[a], konst(`w${b}`, [co, ci, kk, kk], p.folded[b]), konst(`b${b}`, [co], p.biasOf[b])], [out],
        { kernel_shape: [kk, kk], pads: Array(4).fill(kk >> 1) }));
      out = relu(out, c);
    } else if (heads[i]) {
      // its reader, a convolution of stride r, reads the plane itself
    } else if (op === OP.ADD) {
      nodes.push(node("Add", [names[a], names[b]], [out]));
      out = relu(out, c);
    } else if (op === OP.SE) { // the c x c mean (zeros counted) as a vertical then a horizontal depthwise conv
      const n = ch[a], tap = Array(n * c).fill(1 / c);
      nodes.push(
        node("Conv", [names[a], konst(`mean${i}_v`, [n, 1, c, 1], tap)], [out + "_rows"], { group: n, kernel_shape: [c, 1], pads: [c >> 1, 0, c >> 1, 0] }),
        node("Conv", [out + "_rows", konst(`mean${i}_h`, [n, 1, 1, c], tap)], [out + "_pool"], { group: n, kernel_shape: [1, c], pads: [0, c >> 1, 0, c >> 1] }),
        node("Conv", [out + "_pool", konst(`w${b}`, [n, n, 1, 1], p.folded[b]), konst(`b${b}`, [n], p.biasOf[b])], [out + "_fc"], { kernel_shape: [1, 1] }),
        node("Sigmoid", [out + "_fc"], [out + "_gate"]),
        node("Mul", [names[a], out + "_gate"], [out]));
    } else if (op === OP.UNSHUFFLE) { // SpaceToDepth orders channels (i r + j) C + c; the descriptor c r^2 + i r + j
      const n = ch[a], r = b;
      if (n === 1) nodes.push(node("SpaceToDepth", [names[a]], [out], { blocksize: r }));
      else {
        const perm = [];
        for (let cc = 0; cc < n; cc++) for (let q = 0; q < r * r; q++) perm.push(q * n + cc);
        inits.push(tensor(`perm${i}`, [perm.length], perm, INT64));
        nodes.push(node("SpaceToDepth", [names[a]], [out + "_dcr"], { blocksize: r }),
          node("Gather", [out + "_dcr", `perm${i}`], [out], { axis: 1 }));
      }
    } else {
      nodes.push(node("DepthToSpace", [names[a]], [out], { blocksize: b, mode: "CRD" }));
    }
    names.push(out);
  });
  nodes.push(d.residual ? node("Add", ["luma", names.at(-1)], ["enhanced"]) : node("Identity", [names.at(-1)], ["enhanced"]));
  const shape = [1, 1, "height", "width"];
  const graph = cat([...nodes.map((n) => bytes(1, n)), bytes(2, "mtvir"), ...inits.map((t) => bytes(5, t)),
    bytes(11, valueInfo("luma", shape)), bytes(12, valueInfo("enhanced", shape))]);
  return cat([int(1, 8), bytes(2, "mtvir-web"), bytes(7, graph), bytes(8, cat([bytes(1, ""), int(2, 17)]))]);
}
