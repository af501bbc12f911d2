// Mutated ELs (bytes changed, truncated, inserted, deleted; v2 files also with their CRC made right again, so the
// mutation reaches the descriptor, the histograms and the rANS stream) end in a model or one of the package's
// errors, each within a bounded time: never another exception or a hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Enhancer, MtvirError } from "../src/index.js";
import { crc32 } from "../src/bytes.js";

const folder = fileURLToPath(new URL("../../schemas/vectors/", import.meta.url));
const read = (name) => new Uint8Array(readFileSync(folder + name));
const reference = read("reference_vec.mtvir");
const seeds = readdirSync(folder).filter((f) => /^v[234]_.*\.mtvir$/.test(f)).map(read);

function rng(seed) { // xorshift32: the same mutants every run
  let s = seed >>> 0 || 1;
  return (n) => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % n; };
}

function mutate(data, rand) {
  let b = Uint8Array.from(data);
  const kind = rand(4);
  if (kind === 0) for (let k = 1 + rand(8); k > 0; k--) b[rand(b.length)] = rand(256);
  else if (kind === 1) b = b.subarray(0, rand(b.length));
  else if (kind === 2) { const at = rand(b.length), extra = Uint8Array.from({ length: 1 + rand(32) }, () => rand(256)); b = Uint8Array.from([...b.subarray(0, at), ...extra, ...b.subarray(at)]); }
  else { const at = rand(b.length); b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + rand(32))]); }
  if (b.length > 10 && b[4] === 2 && rand(2)) new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

test("mutated ELs end in an Enhancer or an MtvirError, each within 2 s", async () => {
  const rand = rng(7), outcomes = { ok: 0, error: 0 };
  let slowest = 0;
  for (let k = 0; k < 600; k++) {
    const mutant = mutate(seeds[k % seeds.length], rand);
    const t0 = performance.now();
    try {
      const enh = await Enhancer.open(mutant, { reference });
      if (enh.models.y) { // the model runs on a small plane of the EL's size, or refuses it
        const { el } = enh.models.y;
        const w = Math.min(el.width || 16, 64), h = Math.min(el.height || 16, 64);
        try { await enh.enhancePlane("y", new Uint8Array(w * h).fill(100), w, h, { frameIndex: 0, bitDepth: el.bitDepth || 8 }); }
        catch (e) { if (!(e instanceof MtvirError)) throw e; }
      }
      outcomes.ok++;
    } catch (e) {
      assert.ok(e instanceof MtvirError, `case ${k}: ${e && e.stack}`);
      outcomes.error++;
    }
    slowest = Math.max(slowest, performance.now() - t0);
  }
  assert.ok(slowest < 2000, `slowest case ${slowest.toFixed(0)} ms`);
  assert.ok(outcomes.ok > 0 && outcomes.error > 0, JSON.stringify(outcomes));
});
