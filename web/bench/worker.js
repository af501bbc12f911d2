import { Enhancer, referencesAt } from "../src/index.js";

onmessage = async ({ data: o }) => {
  try {
    const el = new Uint8Array(await (await fetch(o.el)).arrayBuffer());
    const enhancer = await Enhancer.open(el, { reference: referencesAt(o.references), backend: o.backend, threads: o.threads });
    const plane = new Uint8Array(o.width * o.height);
    for (let y = 0; y < o.height; y++) for (let x = 0; x < o.width; x++) plane[y * o.width + x] = (128 + 60 * Math.sin(x / 7) * Math.cos(y / 5) + ((x * 31 + y * 17) % 23)) & 255;
    const t0 = performance.now();
    await enhancer.enhancePlane("y", plane, o.width, o.height, { frameIndex: 0 }); // warm-up: compiles the session
    const first = performance.now() - t0, times = [];
    for (let k = 0; k < o.rounds; k++) {
      const t = performance.now();
      await enhancer.enhancePlane("y", plane, o.width, o.height, { frameIndex: 0 });
      times.push(performance.now() - t);
    }
    const sorted = [...times].sort((a, b) => a - b);
    postMessage({ backend: o.backend, tier: enhancer.tier, macs: enhancer.macsPerPixel, width: o.width, height: o.height,
      first, median: sorted[sorted.length >> 1], times, threads: navigator.hardwareConcurrency });
  } catch (e) {
    postMessage({ error: e.message });
  }
};
