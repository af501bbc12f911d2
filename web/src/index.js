// mtvir-web: MTVIR's enhancement layer in JavaScript. One face: `Enhancer.open(bytes, options)`, then enhance the
// planes of decoded frames; errors are the package's own types (errors.js).
import { InputMismatchError } from "./errors.js";
import { version, tierTable, colourTable, TIER_KINDS } from "./format.js";
import { decodePlane } from "./decode.js";
import { enhanceSamples } from "./network.js";
import { createForward, autoBackend, hardwareGpu, BACKENDS } from "./backends.js";

export * from "./errors.js";
export { decodePlane, referenceId, referencesAt } from "./decode.js";
export { messagesIn, codecOf, MTVIR_UUID } from "./inband.js";
export { runModel, enhanceSamples } from "./network.js";
export { createForward, autoBackend, hardwareGpu, BACKENDS } from "./backends.js";
export { kernelVariant } from "./kernels.js";

const PLANES = ["y", "u", "v"];

export class Enhancer {
  /** @param {Uint8Array} data an EL (.mtvir, or an in-band message)
   * @param {{reference?: Uint8Array, tier?: string, backend?: "auto"|"js"|"simd"|"wasm"|"webgpu", threads?: number}} options */
  static async open(data, { reference = null, tier = null, backend = "auto", threads = 0, fps = 30 } = {}) {
    if (!BACKENDS.includes(backend)) throw new InputMismatchError(`backend ${backend}: one of ${BACKENDS.join(", ")}`);
    const v = version(data);
    const tiers = v === 3 ? Object.keys(tierTable(data).tiers) : v === 4 ? Object.keys(colourTable(data).tiers) : ["full"];
    if (tier === "auto") { // the most complex tier that enhances a whole frame in real time here, else the lightest
      for (const name of [...tiers].reverse()) {
        const enhancer = await Enhancer.open(data, { reference, tier: name, backend, threads });
        if (name === tiers[0] || (await enhancer.frameMs()) <= 1000 / fps) return enhancer;
      }
    }
    const name = tier || tiers.at(-1);
    if (!Object.values(TIER_KINDS).includes(name)) throw new InputMismatchError(`tier ${name}: light, full or heavy`);
    const planes = {};
    for (const plane of PLANES) {
      const decoded = await decodePlane(data, reference, v >= 3 ? name : null, plane);
      if (decoded) planes[plane] = decoded;
    }
    return new Enhancer(tiers, name, planes, backend, threads, backend === "auto" && (await hardwareGpu()));
  }

  constructor(tiers, tier, planes, backend, threads, gpu = false) {
    this.tiers = tiers; // the EL's tiers, lightest first
    this.tier = tier;
    this.models = planes; // plane -> { el, models }
    this.backend = backend;
    this.threads = threads;
    this.gpu = gpu; // a hardware GPU, where "auto" runs networks other than the light one
  }

  /** "y", "yuv", "uv"...: the planes this tier enhances. */
  get planes() { return PLANES.filter((p) => p in this.models).join(""); }
  /** Where each plane's model runs, "auto" resolved: "simd" where every plane runs on the kernels, else e.g.
   * "y simd, uv wasm". */
  get engine() {
    const by = {};
    for (const [plane, { el }] of Object.entries(this.models)) {
      const b = this.backend === "auto" ? autoBackend(el.descriptor, this.gpu) : this.backend;
      by[b] = (by[b] ?? "") + plane;
    }
    const names = Object.keys(by);
    return names.length <= 1 ? names[0] ?? this.backend : names.map((b) => `${by[b]} ${b}`).join(", ");
  }

  get macsPerPixel() { return this.models.y ? this.models.y.el.complexity[1] : 0; }

  /** One plane of frame ``frameIndex`` (display order): a Promise of the enhanced samples (a new array), or of the
   * same array untouched when no model's group holds the frame or the EL has no model for that plane. */
  async enhancePlane(plane, samples, width, height, { frameIndex = null, bitDepth = null } = {}) {
    const found = this.models[plane];
    if (!found) return samples;
    const { el, models } = found;
    const depth = bitDepth ?? (el.bitDepth || (samples instanceof Uint8Array ? 8 : 10));
    checkFrame(el, samples, width, height, depth, frameIndex);
    const model = frameIndex === null ? models[0] : models.find((m) => m.first <= frameIndex && frameIndex < m.first + m.count);
    if (!model) return samples;
    model.forward ??= createForward(el.descriptor, model.params, this.backend, { threads: this.threads });
    return enhanceSamples(await model.forward, el.descriptor, samples, width, height, depth);
  }

  /** Milliseconds to enhance one whole frame of the EL's size (every plane this tier has a model for), timed on a
   * grey frame after a first run that compiles the sessions; what tier "auto" compares with 1000 / fps. */
  async frameMs() {
    const planes = Object.entries(this.models).map(([plane, { el }]) => {
      const w = el.width || 1280, h = el.height || 720, depth = el.bitDepth || 8;
      return [plane, new (depth > 8 ? Uint16Array : Uint8Array)(w * h).fill(1 << (depth - 1)), w, h, depth];
    });
    const run = () => Promise.all(planes.map(([p, x, w, h, depth]) => this.enhancePlane(p, x, w, h, { bitDepth: depth })));
    await run();
    const t0 = performance.now();
    await run();
    return performance.now() - t0;
  }

  /** The sessions of every model made now (ONNX Runtime Web compiles a model on its first frame otherwise). */
  async warmUp() {
    for (const { el, models } of Object.values(this.models))
      for (const m of models) await (m.forward ??= createForward(el.descriptor, m.params, this.backend, { threads: this.threads }));
  }
}

/** The frames a decoder refuses: another size, bit depth or sample type than the EL's, a sample above the peak, an
 * index beyond its frame count. */
export function checkFrame(el, samples, width, height, bitDepth, frameIndex) {
  if ((el.width && width !== el.width) || (el.height && height !== el.height))
    throw new InputMismatchError(`a ${width}x${height} plane for an EL of ${el.width}x${el.height}`);
  if (samples.length !== width * height) throw new InputMismatchError(`${samples.length} samples for a ${width}x${height} plane`);
  const type = bitDepth === 8 ? Uint8Array : Uint16Array;
  if ((el.bitDepth && bitDepth !== el.bitDepth) || bitDepth < 8 || bitDepth > 16 || !(samples instanceof type))
    throw new InputMismatchError(`a ${bitDepth}-bit ${samples.constructor.name} plane for a ${el.bitDepth || "any"}-bit EL`);
  if (bitDepth > 8 && bitDepth < 16) { // 8-bit samples in a Uint8Array cannot exceed their peak
    const peak = 2 ** bitDepth - 1;
    for (let i = 0; i < samples.length; i++) if (samples[i] > peak) throw new InputMismatchError(`sample values beyond ${bitDepth} bits`);
  }
  if (frameIndex !== null && el.frameCount && !(frameIndex >= 0 && frameIndex < el.frameCount))
    throw new InputMismatchError(`frame ${frameIndex} beyond the EL's ${el.frameCount} frames`);
}
