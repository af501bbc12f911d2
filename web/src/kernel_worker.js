// A worker of the simd back end (kernels.js): its own instance of the kernels per model, one band of rows a job.
import { LightKernel, inNode } from "./kernels.js";

const port = inNode ? (await import("node:worker_threads")).parentPort : null;
const post = (message, transfer) => (port ? port.postMessage(message, transfer) : postMessage(message, transfer));
const kernels = new Map();
let module;

async function handle(m) {
  if (m.module) module = m.module;
  else if (m.model) kernels.set(m.model.id, LightKernel.create(m.model.shape, m.model.weights, m.model.offset, m.model.residual, module));
  else if ("drop" in m) kernels.delete(m.drop);
  else {
    try {
      const kernel = await kernels.get(m.id);
      const out = kernel.run(m.samples, m.width, m.height, m.bitDepth, m.firstRow, m.row0, m.row1);
      post({ job: m.job, out }, [out.buffer]);
    } catch (e) {
      post({ job: m.job, error: e.message, kind: e.name });
    }
  }
}

if (port) port.on("message", handle);
else onmessage = (e) => handle(e.data);
