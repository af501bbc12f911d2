// The public face: Enhancer.open on each EL version, planes and tiers, frames outside every group untouched,
// clear errors for EL v1, a missing or wrong reference, and frames that do not fit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Enhancer, FormatError, UnsupportedVersionError, ReferenceModelError, InputMismatchError } from "../src/index.js";

const folder = fileURLToPath(new URL("../../schemas/vectors/", import.meta.url));
const read = (name) => new Uint8Array(readFileSync(folder + name));
const reference = read("reference_vec.mtvir");

test("EL v1 is refused with a clear error", async () => {
  await assert.rejects(Enhancer.open(read("v1/v1_residue.mtvir"), { reference }), UnsupportedVersionError);
  await assert.rejects(Enhancer.open(new Uint8Array([1, 2, 3])), FormatError);
  await assert.rejects(Enhancer.open(read("v2_residue.mtvir")), ReferenceModelError); // no reference given
  await assert.rejects(Enhancer.open(read("v2_residue.mtvir"), { reference: read("v2_residue.mtvir") }), ReferenceModelError);
});

test("a tiered EL: its tiers, the most complex by default, the light one on request", async () => {
  const data = read("v3_tiers.mtvir");
  const full = await Enhancer.open(data, { reference });
  const light = await Enhancer.open(data, { reference, tier: "light" });
  assert.deepEqual(full.tiers, ["light", "full"]);
  assert.equal(full.tier, "full");
  assert.equal(light.tier, "light");
  assert.ok(light.macsPerPixel < full.macsPerPixel);
  await assert.rejects(Enhancer.open(data, { reference, tier: "heavy" }), FormatError);
  // auto: the most complex tier that runs a whole frame in real time at fps, timed here, else the lightest
  assert.equal((await Enhancer.open(data, { reference, tier: "auto", fps: 1e-3 })).tier, "full");
  assert.equal((await Enhancer.open(data, { reference, tier: "auto", fps: 1e9 })).tier, "light");
  assert.ok((await full.frameMs()) > 0);
});

test("a colour EL enhances the planes it has models for and passes the others through", async () => {
  const enh = await Enhancer.open(read("v4_colour.mtvir"), { reference });
  assert.equal(enh.planes, "yuv");
  const { el } = enh.models.u;
  const plane = new Uint16Array(el.width * el.height).fill(512);
  const out = await enh.enhancePlane("u", plane, el.width, el.height, { frameIndex: 0 });
  assert.notEqual(out, plane);
  await assert.rejects(enh.enhancePlane("u", new Uint8Array(el.width * el.height), el.width, el.height), InputMismatchError);
  await assert.rejects(enh.enhancePlane("u", plane, el.width + 1, el.height), InputMismatchError);
  const only = await Enhancer.open(read("v4_chroma_only.mtvir"), { reference, tier: "light" });
  assert.equal(only.planes, "v");
  const y = new Uint8Array(4);
  assert.equal(await only.enhancePlane("y", y, 2, 2), y); // no luma model: as decoded
});

test("frames outside every group come back untouched", async () => {
  const enh = await Enhancer.open(read("v2_groups_10bit.mtvir"), { reference });
  const { el, models } = enh.models.y;
  const gap = [...Array(el.frameCount).keys()].find((i) => !models.some((m) => m.first <= i && i < m.first + m.count));
  assert.notEqual(gap, undefined);
  const plane = new Uint16Array(el.width * el.height).fill(300);
  assert.equal(await enh.enhancePlane("y", plane, el.width, el.height, { frameIndex: gap }), plane);
  await assert.rejects(enh.enhancePlane("y", plane, el.width, el.height, { frameIndex: el.frameCount }), InputMismatchError);
});
