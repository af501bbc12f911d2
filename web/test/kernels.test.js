// The simd back end (src/kernels.js, kernels/light.c): light networks of every shape it takes against the plain
// JavaScript reference within the spec's tolerance, both builds, any number of threads giving the same samples;
// what it refuses; and the committed .wasm files rebuilt from their source byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jsForward, enhanceSamples } from "../src/network.js";
import { lightForward, lightShape, kernelVariant } from "../src/kernels.js";
import { autoBackend, hardwareGpu } from "../src/backends.js";
import { FormatError, RuntimeError } from "../src/errors.js";
import { OP } from "../src/format.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd"); // node 20: relaxed SIMD behind a flag (on in Chromium)

function rng(seed) { // xorshift32 in [0, 1)
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

/** A light network: unshuffle by block, convs [[cin, cout, relu]...] 3x3, shuffle back; random weights. */
function network(block, convs, seed, { residual = 1, offset = 0.5, scale = 0.3 } = {}) {
  const rand = rng(seed);
  const layers = convs.map(([ci, co]) => [ci, co, 3]);
  const nodes = [[OP.UNSHUFFLE, 0, block, 0], ...convs.map(([, , relu], k) => [OP.CONV, k + 1, k, relu]), [OP.SHUFFLE, convs.length + 1, block, 0]];
  const d = { offset, residual, layers, nodes, block };
  const p = {
    folded: convs.map(([ci, co]) => Float32Array.from({ length: co * ci * 9 }, () => (rand() - 0.5) * scale / Math.sqrt(ci))),
    biasOf: convs.map(([, co]) => Float32Array.from({ length: co }, () => (rand() - 0.5) * 0.02)),
  };
  return { d, p };
}

function plane(width, height, depth, seed) {
  const rand = rng(seed), peak = 2 ** depth - 1, out = new (depth > 8 ? Uint16Array : Uint8Array)(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++)
    out[y * width + x] = Math.min(peak, Math.max(0, Math.round(peak * (0.5 + 0.3 * Math.sin(x / 5) * Math.cos(y / 7) + 0.1 * (rand() - 0.5)))));
  return out;
}

function within(got, want, what) {
  assert.equal(got.constructor, want.constructor, what);
  assert.equal(got.length, want.length, what);
  let worst = 0, differing = 0;
  for (let i = 0; i < want.length; i++) { const d = Math.abs(got[i] - want[i]); worst = Math.max(worst, d); differing += d > 0; }
  assert.ok(worst <= 1 && differing <= 0.01 * want.length, `${what}: max diff ${worst}, ${differing} of ${want.length} differ`);
}

const CASES = [ // block, convs, width, height, bit depth
  [2, [[4, 16, 1], [16, 16, 1], [16, 4, 0]], 203, 117, 8], // the light tier's network, odd sizes
  [2, [[4, 16, 1], [16, 16, 1], [16, 4, 0]], 64, 36, 10],
  [4, [[16, 8, 1], [8, 16, 0]], 70, 45, 8], // blocks of 4, a width not a multiple of them
  [2, [[4, 32, 1], [32, 4, 0]], 33, 9, 16],
  [2, [[4, 4, 0]], 2, 2, 8], // one tile
  [2, [[4, 8, 1], [8, 8, 1], [8, 8, 1], [8, 4, 0]], 31, 61, 12],
];

for (const [k, [block, convs, width, height, depth]] of CASES.entries()) {
  test(`light network ${convs.map(([a, b]) => `${a}->${b}`).join(", ")} by ${block}, ${width}x${height} ${depth}-bit: as the reference, any threads`, async () => {
    const { d, p } = network(block, convs, 11 + k, { residual: k % 3 ? 1 : 0 });
    const samples = plane(width, height, depth, 5 + k);
    const want = await enhanceSamples(jsForward(d, p), d, samples, width, height, depth);
    for (const variant of ["simd", "relaxed"]) {
      let first = null;
      for (const threads of [1, 2, 3, 5]) {
        const got = await enhanceSamples(await lightForward(d, p, { threads, variant }), d, samples, width, height, depth);
        within(got, want, `${variant}, ${threads} threads`);
        if (first) assert.deepEqual(got, first, `${variant}: ${threads} threads as 1`);
        first ??= got;
      }
    }
  });
}

test("a model that gives non-finite values is refused with a FormatError, on every thread", async () => {
  const { d, p } = network(2, [[4, 16, 1], [16, 4, 0]], 3);
  p.biasOf[1][2] = 1e38;
  p.folded[1].fill(3e38); // the sums overflow to infinity
  for (const threads of [1, 3])
    await assert.rejects(enhanceSamples(await lightForward(d, p, { threads }), d, plane(40, 40, 8, 1), 40, 40, 8), FormatError);
});

test("networks the kernels do not run are refused with a RuntimeError, and auto takes ONNX Runtime Web for them (WebGPU where there is a hardware GPU)", async () => {
  const light = network(2, [[4, 16, 1], [16, 4, 0]], 1).d;
  assert.ok(lightShape(light));
  assert.equal(autoBackend(light), "simd");
  assert.equal(autoBackend(light, true), "simd");
  assert.equal(await hardwareGpu(), false); // node has no WebGPU
  const changed = (f) => { const d = structuredClone(light); f(d); return d; };
  for (const d of [changed((d) => { d.layers[0][2] = 5; }), changed((d) => { d.layers[0][1] = 12; d.layers[1][0] = 12; }),
    changed((d) => { d.nodes.pop(); }), changed((d) => { d.nodes[0][2] = 3; d.nodes.at(-1)[2] = 3; })]) {
    assert.equal(lightShape(d), null);
    assert.equal(autoBackend(d), "wasm");
    assert.equal(autoBackend(d, true), "webgpu");
    await assert.rejects(lightForward(d, { folded: [], biasOf: [] }), RuntimeError);
  }
});

test("the engine's build: relaxed where it validates", async () => {
  assert.equal(await kernelVariant(), "relaxed"); // the flag above turns it on in node 20; Chromium has it
});

const clang = (() => { try { execFileSync("clang-19", ["--version"]); execFileSync("wasm-ld-19", ["--version"]); return true; } catch { return false; } })();
test("src/light.wasm and src/light-relaxed.wasm are kernels/light.c built by kernels/build.sh", { skip: !clang && "clang-19 and lld-19 are not installed" }, () => {
  const out = mkdtempSync(join(tmpdir(), "mtvir-kernels-"));
  execFileSync("sh", [fileURLToPath(new URL("../kernels/build.sh", import.meta.url))], { env: { ...process.env, OUT: out } });
  for (const name of ["light.wasm", "light-relaxed.wasm"])
    assert.ok(readFileSync(join(out, name)).equals(readFileSync(new URL(`../src/${name}`, import.meta.url))), `${name}: rebuild it (npm run build:wasm)`);
});
