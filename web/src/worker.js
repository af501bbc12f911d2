// The player's worker: demuxes the video (mediabunny: MP4, WebM, Matroska), decodes the BL with WebCodecs, reads the
// EL (in band: each message as its packet passes; or a sidecar file), enhances each frame's planes by the model of
// its own group (frame index in display order) and posts the BL and enhanced planes back. Any EL trouble is
// reported once and those frames play as the BL.
import { Input, ALL_FORMATS, UrlSource, BlobSource, EncodedPacketSink } from "../node_modules/mediabunny/dist/bundles/mediabunny.min.mjs";
import { Enhancer, MtvirError, messagesIn, codecOf, referencesAt } from "./index.js";

const AHEAD = 4; // frames decoded or posted but not yet drawn: bounds this worker's memory
let decoder = null, codec = null, options = null, sidecar = null, index = 0, queue = [], busy = false, ended = false;
let undrawn = 0, wake = null;
const tick = () => new Promise((ok) => { wake = ok; });
const poke = () => { if (wake) { const w = wake; wake = null; w(); } };
const inBand = []; // {enhancer, promise} per message, in arrival order
const said = new Set();

/** Each problem once (``key``: what it is, without the frame), however many frames it touches. */
function say(text, key = text) { if (!said.has(key)) { said.add(key); postMessage({ type: "message", text }); } }


async function openEl(bytes) {
  const e = await Enhancer.open(bytes, { reference: options.referenceModels, tier: options.tier ?? "auto", backend: options.backend,
    threads: options.threads, fps: options.fps });
  if (!options.tier || options.tier === "auto") options.tier = e.tier; // timed once: later messages take the same tier
  return e;
}

/** The enhancer whose model of ``plane`` holds frame ``i``: the sidecar EL's, or the latest in-band message's. */
function enhancerFor(plane, i) {
  if (sidecar) return sidecar;
  for (let k = inBand.length - 1; k >= 0; k--) {
    const e = inBand[k].enhancer, found = e && e.models[plane];
    if (found && found.models.some((m) => m.first <= i && i < m.first + m.count)) return e;
  }
  return null;
}

async function planesOf(frame) {
  const format = frame.format; // I420 (8-bit) or I420P10 (10-bit in 16-bit words)
  if (format !== "I420" && format !== "I420P10") throw new Error(`frame format ${format}: I420 and I420P10 are played`);
  const wide = format === "I420P10", Type = wide ? Uint16Array : Uint8Array;
  const { width: w, height: h } = frame.visibleRect;
  const cw = Math.ceil(w / 2), ch = Math.ceil(h / 2), b = wide ? 2 : 1;
  const layout = [{ offset: 0, stride: w * b }, { offset: w * h * b, stride: cw * b }, { offset: (w * h + cw * ch) * b, stride: cw * b }];
  const buffer = new ArrayBuffer((w * h + 2 * cw * ch) * b);
  await frame.copyTo(buffer, { layout, rect: frame.visibleRect });
  return { width: w, height: h, depth: wide ? 10 : 8,
    planes: [new Type(buffer, 0, w * h), new Type(buffer, w * h * b, cw * ch), new Type(buffer, (w * h + cw * ch) * b, cw * ch)] };
}

async function pump() {
  if (busy) return;
  busy = true;
  while (queue.length) {
    const frame = queue.shift(), i = index++;
    try {
      const { width, height, depth, planes } = await planesOf(frame);
      await Promise.all(inBand.map((m) => m.promise));
      const t0 = performance.now();
      const sizes = [[width, height], [Math.ceil(width / 2), Math.ceil(height / 2)], [Math.ceil(width / 2), Math.ceil(height / 2)]];
      const enhanced = [];
      let used = null;
      for (const [k, plane] of ["y", "u", "v"].entries()) {
        const e = enhancerFor(plane, i);
        let out = planes[k];
        if (e) {
          try {
            out = await e.enhancePlane(plane, planes[k], ...sizes[k], { frameIndex: i, bitDepth: depth });
            used = used ?? e;
          } catch (err) {
            if (!(err instanceof MtvirError)) throw err;
            say(`from frame ${i}, ${plane.toUpperCase()}: the EL is not used (${err.message}); it plays as the BL`,
              `${plane}: ${err.message.replace(/\d+/g, "#")}`);
          }
        }
        enhanced.push(out === planes[k] ? null : out);
      }
      const ms = performance.now() - t0;
      const el = enhanced.map((p, k) => p ?? planes[k].slice());
      undrawn++;
      postMessage({ type: "frame", index: i, width, height, depth, bl: planes, el, enhanced: enhanced.map(Boolean), ms,
        tier: used ? used.tier : null, macs: used ? used.macsPerPixel : 0 }, [...planes, ...el].map((p) => p.buffer).filter((b, k, all) => all.indexOf(b) === k));
    } catch (err) {
      postMessage({ type: "error", text: `frame ${i}: ${err.message}` });
    } finally {
      frame.close();
    }
  }
  busy = false;
  poke();
  if (ended && decoder && decoder.decodeQueueSize === 0) postMessage({ type: "done", frames: index });
}

async function demux(src) {
  const input = new Input({ source: src instanceof Blob ? new BlobSource(src) : new UrlSource(src), formats: ALL_FORMATS });
  const track = await input.getPrimaryVideoTrack();
  if (!track) throw new Error("no video track");
  const config = await track.getDecoderConfig();
  if (!config || !(await VideoDecoder.isConfigSupported(config)).supported)
    throw new Error(`this browser cannot decode ${config ? config.codec : track.codec} (AV1, H.264 and VP9 play; HEVC rarely)`);
  codec = codecOf(config.codec);
  const stats = await track.computePacketStats(50);
  options.fps = stats.averagePacketRate || 25;
  postMessage({ type: "ready", codec, codecString: config.codec, fps: options.fps, width: track.displayWidth,
    height: track.displayHeight });
  if (options.el) {
    try {
      sidecar = await openEl(options.el);
      postMessage({ type: "el", tier: sidecar.tier, tiers: sidecar.tiers, planes: sidecar.planes, bytes: options.el.length, engine: sidecar.engine });
    } catch (err) {
      if (!(err instanceof MtvirError)) throw err;
      say(`the EL is not used (${err.message}): the BL plays alone`);
    }
  }
  decoder = new VideoDecoder({ output: (f) => { queue.push(f); pump(); }, error: (e) => postMessage({ type: "error", text: `decoder: ${e.message}` }) });
  // a decoder that holds frames until it has more input takes packets without giving frames: each one it takes
  // must wake the loop below (waiting on frames alone, playback stalled now and then at 720p)
  decoder.addEventListener("dequeue", poke);
  decoder.configure(config);
  for await (const packet of new EncodedPacketSink(track).packets()) {
    if (!options.el) for (const message of messagesIn(codec, packet.data)) readMessage(message);
    while (decoder.decodeQueueSize + queue.length + undrawn > AHEAD) await tick();
    decoder.decode(packet.toEncodedVideoChunk());
  }
  await decoder.flush();
  ended = true;
  pump();
}

function readMessage(message) {
  const entry = { enhancer: null, bytes: message.length };
  entry.promise = openEl(message).then((e) => {
    entry.enhancer = e;
    postMessage({ type: "el", tier: e.tier, tiers: e.tiers, planes: e.planes, bytes: message.length, inBand: true, engine: e.engine });
  }, (err) => { say(`an in-band EL message is not used (${err.message}): its frames play as the BL`); });
  inBand.push(entry);
}

onmessage = async ({ data: msg }) => {
  if (msg.type === "drawn") { undrawn--; poke(); return; }
  try {
    options = { ...msg, referenceModels: referencesAt(msg.references) };
    await demux(msg.src);
  } catch (err) {
    postMessage({ type: "failed", text: err.message });
  }
};
