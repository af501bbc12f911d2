// Where a model runs: "js" (plain JavaScript, the reference, everywhere), "simd" (the package's own WebAssembly SIMD
// kernels: the light network only, threads as workers), "wasm" (ONNX Runtime Web's WebAssembly CPU back end, SIMD
// and threads where the page is cross-origin isolated), "webgpu" (ONNX Runtime Web on the GPU), "auto" (simd where
// it runs the network, the fastest on a CPU by web/bench; else webgpu where the page has a hardware GPU, else wasm).
// Each is a forward function (u, H, W) -> v for enhanceSamples ("simd" takes the samples themselves); ONNX Runtime
// Web is imported only when asked for.
import { RuntimeError } from "./errors.js";
import { jsForward } from "./network.js";
import { buildGraph } from "./onnx.js";
import { lightForward, lightShape, inNode } from "./kernels.js";

export const BACKENDS = ["auto", "js", "simd", "wasm", "webgpu"];
const ortModules = {};

/** ONNX Runtime Web, imported once per back end: node resolves the package; a page or worker (no import maps in
 * workers) loads its ES module build beside this package, the WebAssembly-only one unless the GPU is asked for. */
export async function loadOrt(backend = "wasm") {
  const build = backend === "webgpu" ? "ort.webgpu.bundle.min.mjs" : "ort.wasm.bundle.min.mjs";
  if (!ortModules[build]) {
    try {
      ortModules[build] = inNode ? await import("onnxruntime-web")
        : await import(new URL(`../node_modules/onnxruntime-web/dist/${build}`, import.meta.url).href);
    } catch (e) {
      throw new RuntimeError(`onnxruntime-web is not available: ${e.message}`);
    }
  }
  return ortModules[build];
}

let gpuProbe = null;

/** Whether the page has a hardware GPU: a WebGPU adapter that is not a fallback (SwiftShader, the CPU, is one; on
 * it the full network took 10 s a 176x144 frame, against 0.1 s on WebAssembly). Asked once. */
export function hardwareGpu() {
  gpuProbe ??= (async () => {
    try {
      const adapter = await globalThis.navigator?.gpu?.requestAdapter();
      const info = adapter?.info ?? {};
      return Boolean(adapter) && !(info.isFallbackAdapter ?? adapter.isFallbackAdapter) && info.architecture !== "swiftshader";
    } catch {
      return false;
    }
  })();
  return gpuProbe;
}

/** The back end "auto" picks for a network: the kernels for the light one (65 fps at 720p on 2 cores); for any
 * other, the GPU where there is one (the full network: 2.2 s a 720p frame on 2 cores' WebAssembly). */
export const autoBackend = (d, gpu = false) => (lightShape(d) ? "simd" : gpu ? "webgpu" : "wasm");

export async function createForward(d, p, backend = "js", { threads = 0 } = {}) {
  if (backend === "auto") backend = autoBackend(d, await hardwareGpu());
  if (backend === "js") return jsForward(d, p);
  if (backend === "simd") return lightForward(d, p, { threads });
  if (!BACKENDS.includes(backend)) throw new RuntimeError(`backend ${backend}: one of ${BACKENDS.join(", ")}`);
  const ort = await loadOrt(backend);
  // ONNX Runtime Web's default is half the cores; every core is its due here (light tier 720p on 2 cores: 71 ms
  // with 2 threads, 96-115 with 1). Threads need a cross-origin isolated page; node has them anyway.
  const cores = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 1;
  const isolated = inNode || globalThis.crossOriginIsolated;
  if (threads || isolated) ort.env.wasm.numThreads = threads || cores || 1;
  let session;
  try {
    session = await ort.InferenceSession.create(buildGraph(d, p), {
      executionProviders: [backend], graphOptimizationLevel: "all",
    });
  } catch (e) {
    throw new RuntimeError(`ONNX Runtime Web (${backend}) cannot run this model: ${e.message}`);
  }
  const forward = async (u, H, W) => {
    try {
      const result = await session.run({ luma: new ort.Tensor("float32", u, [1, 1, H, W]) });
      return result.enhanced.data;
    } catch (e) {
      throw new RuntimeError(`ONNX Runtime Web (${backend}) failed on a frame: ${e.message}`);
    }
  };
  forward.release = () => session.release();
  return forward;
}
