// Every conformance vector of schemas/vectors (the spec's own): models rebuilt to the bit (SHA-256 of the
// parameters and of the folded weights), frames within the manifest's tolerance, refused frames and files refused
// with the package's errors.
import { test } from "node:test";
import v8 from "node:v8";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { decodePlane, checkFrame, createForward, enhanceSamples, MtvirError } from "../src/index.js";
import { paramsBytes, foldedBytes } from "../src/rebuild.js";
import { readNpy } from "./npy.js";
import { lightForward, lightShape } from "../src/kernels.js";
import { RuntimeError } from "../src/errors.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd"); // node 20: relaxed SIMD behind a flag (on in Chromium)
const KERNELS = { simd: "simd", "simd (relaxed)": "relaxed" }; // the simd back end's two builds
const byKernels = new Set();

const folder = fileURLToPath(new URL("../../schemas/vectors/", import.meta.url));
const manifest = JSON.parse(readFileSync(folder + "vectors.json", "utf8"));
const read = (name) => new Uint8Array(readFileSync(folder + name));
const hex = (bytes) => createHash("sha256").update(bytes).digest("hex");

for (const [entry, backend] of manifest.vectors.flatMap((e) => ["js", "wasm", ...Object.keys(KERNELS)].map((b) => [e, b]))) {
  const label = entry.file + (entry.tier ? ` (${entry.tier})` : "") + (entry.plane ? ` (${entry.plane})` : "");
  test(`vector ${label}, ${backend}`, async () => {
    const tol = entry.tolerance ?? manifest.tolerance;
    const decoded = await decodePlane(read(entry.file), entry.reference ? read(entry.reference) : null, entry.tier ?? null, entry.plane ?? "y");
    assert.ok(decoded, "a model for the plane");
    const { el, models } = decoded;
    if (backend in KERNELS && !lightShape(el.descriptor)) { // the kernels run the light network alone, and say so
      await assert.rejects(lightForward(el.descriptor, models[0].params), RuntimeError);
      return;
    }
    if (backend in KERNELS) byKernels.add(`${label}, ${backend}`);
    assert.deepEqual(models.map((m) => [m.first, m.count, hex(paramsBytes(m.params)), hex(foldedBytes(m.params))]),
      entry.groups.map((g) => [g.first_frame, g.frame_count, g.params_sha256, g.folded_sha256]));
    for (const fr of entry.frames) {
      const { samples, width, height } = readNpy(folder + fr.input);
      const run = async () => {
        checkFrame(el, samples, width, height, fr.bit_depth, fr.frame_index);
        const model = models.find((m) => m.first <= fr.frame_index && fr.frame_index < m.first + m.count);
        if (!model) return samples;
        const forward = backend in KERNELS ? await lightForward(el.descriptor, model.params, { threads: 2, variant: KERNELS[backend] })
          : await createForward(el.descriptor, model.params, backend, { threads: 1 });
        return enhanceSamples(forward, el.descriptor, samples, width, height, fr.bit_depth);
      };
      if (fr.refused) {
        await assert.rejects(run, MtvirError, `frame ${fr.frame_index}: ${fr.refused}`);
        continue;
      }
      const got = await run(), want = readNpy(folder + fr.expected).samples;
      assert.equal(got.constructor, want.constructor);
      let worst = 0, differing = 0;
      for (let i = 0; i < want.length; i++) {
        const diff = Math.abs(got[i] - want[i]);
        worst = Math.max(worst, diff);
        differing += diff > 0;
      }
      assert.ok(worst <= tol.max_abs_diff && differing / want.length <= tol.max_fraction_differing,
        `frame ${fr.frame_index}: max diff ${worst}, ${differing} of ${want.length} samples differ`);
    }
  });
}

test("the simd kernels ran every light network among the vectors, both builds", () => {
  console.log([...byKernels].join("\n"));
  for (const label of ["v3_tiers.mtvir (light)", "v4_chroma_only.mtvir (light) (v)"])
    for (const backend of Object.keys(KERNELS)) assert.ok(byKernels.has(`${label}, ${backend}`), `${label}, ${backend}`);
});

for (const entry of manifest.refused ?? []) {
  test(`refused ${entry.file} (${entry.rule})`, async () => {
    await assert.rejects(async () => {
      const decoded = await decodePlane(read(entry.file), entry.reference ? read(entry.reference) : null, entry.tier ?? null, entry.plane ?? "y");
      if (decoded === null) throw new MtvirError("no model for that plane");
    }, MtvirError);
  });
}
