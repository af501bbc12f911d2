// The spec's conformance vectors through one back end in this browser (?backend=webgpu: ONNX Runtime Web on the
// page's GPU, which node cannot run): each frame within the manifest's tolerance, refused frames refused with the
// package's errors. Reports on the page and to tools/bench.mjs (window.mtvirReport).
import { decodePlane, checkFrame, createForward, enhanceSamples, MtvirError } from "../src/index.js";
import { parseNpy } from "../tools/npy.js";

const params = new URLSearchParams(location.search);
const backend = params.get("backend") ?? "webgpu", base = new URL(params.get("vectors") ?? "/media/", location.href);
const bytes = async (name) => new Uint8Array(await (await fetch(new URL(name, base))).arrayBuffer());

async function check() {
  const manifest = JSON.parse(new TextDecoder().decode(await bytes("vectors.json")));
  const frames = [];
  for (const entry of manifest.vectors) {
    const label = entry.file + (entry.tier ? ` (${entry.tier})` : "") + (entry.plane ? ` (${entry.plane})` : "");
    const tol = entry.tolerance ?? manifest.tolerance;
    const { el, models } = await decodePlane(await bytes(entry.file), entry.reference ? await bytes(entry.reference) : null,
      entry.tier ?? null, entry.plane ?? "y");
    for (const fr of entry.frames) {
      const { samples, width, height } = parseNpy(await bytes(fr.input), fr.input);
      const row = { label, frame: fr.frame_index };
      try {
        checkFrame(el, samples, width, height, fr.bit_depth, fr.frame_index);
        const model = models.find((m) => m.first <= fr.frame_index && fr.frame_index < m.first + m.count);
        const got = model ? await enhanceSamples(await (model.forward ??= createForward(el.descriptor, model.params, backend)),
          el.descriptor, samples, width, height, fr.bit_depth) : samples;
        if (fr.refused) throw new Error(`not refused (${fr.refused})`);
        const want = parseNpy(await bytes(fr.expected), fr.expected).samples;
        let worst = 0, differing = 0;
        for (let i = 0; i < want.length; i++) { const d = Math.abs(got[i] - want[i]); worst = Math.max(worst, d); differing += d > 0; }
        Object.assign(row, { worst, differing, samples: want.length,
          ok: got.constructor === want.constructor && worst <= tol.max_abs_diff && differing / want.length <= tol.max_fraction_differing });
      } catch (e) {
        Object.assign(row, fr.refused && e instanceof MtvirError ? { refused: e.constructor.name, ok: true } : { error: e.message, ok: false });
      }
      frames.push(row);
    }
  }
  return { backend, frames, failed: frames.filter((f) => !f.ok).length };
}

check().then((r) => r, (e) => ({ backend, error: e.message })).then((result) => {
  document.getElementById("out").textContent = JSON.stringify(result, null, 1);
  document.body.dataset.done = "1";
  if (typeof window.mtvirReport === "function") window.mtvirReport(JSON.stringify(result));
});
