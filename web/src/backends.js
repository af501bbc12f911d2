// Where a model runs: "js" (plain JavaScript, the reference, everywhere), "wasm" (ONNX Runtime Web's WebAssembly
// CPU back end, SIMD and threads where the page is cross-origin isolated), "webgpu" (ONNX Runtime Web on the GPU).
// Each is a forward function (u, H, W) -> v for enhanceSamples; ONNX Runtime Web is imported only when asked for.
import { RuntimeError } from "./errors.js";
import { jsForward } from "./network.js";
import { buildGraph } from "./onnx.js";

export const BACKENDS = ["js", "wasm", "webgpu"];
let ortModule = null;

/** ONNX Runtime Web, imported once (a page maps "onnxruntime-web" in its import map; node resolves the package). */
export async function loadOrt() {
  if (!ortModule) {
    try {
      ortModule = await import("onnxruntime-web");
    } catch (e) {
      throw new RuntimeError(`onnxruntime-web is not available: ${e.message}`);
    }
  }
  return ortModule;
}

export async function createForward(d, p, backend = "js", { threads = 0 } = {}) {
  if (backend === "js") return jsForward(d, p);
  if (!BACKENDS.includes(backend)) throw new RuntimeError(`backend ${backend}: one of ${BACKENDS.join(", ")}`);
  const ort = await loadOrt();
  if (threads) ort.env.wasm.numThreads = threads;
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
