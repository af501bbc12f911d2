// In-band messages from coded frames: AV1 metadata OBUs (with or without an extension byte or a size field,
// trailing zero bytes) and H.264/HEVC SEI (length-prefixed or Annex B, emulation prevention); another UUID, another
// metadata type or a truncated unit is no message. (tests/test_web.py plays real files made by the Python SDK.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { messagesIn, codecOf, MTVIR_UUID } from "../src/index.js";

const cat = (...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));
const leb = (n) => { const out = []; do { out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7; } while (n); return out; };
const message = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);

test("codec strings", () => {
  assert.deepEqual(["av01.0.04M.08", "avc1.64001e", "hev1.1.6.L93.B0", "vp09.00.10.08"].map(codecOf), ["av1", "h264", "hevc", null]);
});

test("AV1 metadata OBUs", () => {
  const payload = cat([6], MTVIR_UUID, message, [0x80]);
  const obu = cat([0x2a], leb(payload.length), payload);
  const frameHeader = [0x1a, 0x01, 0x10], sequence = [0x0a, 0x03, 0, 0, 0];
  assert.deepEqual(messagesIn("av1", cat(sequence, obu, frameHeader)), [message]);
  assert.deepEqual(messagesIn("av1", cat([0x2e, 0x00], leb(payload.length + 2), payload, [0, 0])), [message]); // extension, zeros
  assert.deepEqual(messagesIn("av1", cat([0x28], payload)), [message]); // no size field: to the end
  const foreign = cat([6], new Uint8Array(16), message, [0x80]);
  assert.deepEqual(messagesIn("av1", cat([0x2a], leb(foreign.length), foreign)), []);
  const type7 = cat([7], MTVIR_UUID, message, [0x80]);
  assert.deepEqual(messagesIn("av1", cat([0x2a], leb(type7.length), type7)), []);
  assert.deepEqual(messagesIn("av1", obu.subarray(0, obu.length - 5)), []); // truncated
});

function sei(codec, body) { // one user-data-unregistered SEI message with emulation prevention
  const payload = cat(MTVIR_UUID, body), size = payload.length;
  const rbsp = cat([5], Array(Math.floor(size / 255)).fill(255), [size % 255], payload, [0x80]);
  const out = [];
  let zeros = 0;
  for (const v of rbsp) { if (zeros >= 2 && v <= 3) { out.push(3); zeros = 0; } out.push(v); zeros = v === 0 ? zeros + 1 : 0; }
  return cat(codec === "hevc" ? [0x4e, 0x01] : [0x06], out);
}

test("SEI in length-prefixed and Annex B access units, with emulation prevention", () => {
  const body = cat([0, 0, 1, 0, 0, 0, 0, 3], message); // needs emulation prevention
  for (const codec of ["h264", "hevc"]) {
    const nal = sei(codec, body), slice = codec === "hevc" ? [0x02, 0x01, 0xaa] : [0x65, 0x88, 0x84];
    const lp = (u) => cat([u.length >>> 24, (u.length >> 16) & 255, (u.length >> 8) & 255, u.length & 255], u);
    assert.deepEqual(messagesIn(codec, cat(lp(nal), lp(slice))), [body], codec);
    assert.deepEqual(messagesIn(codec, cat([0, 0, 0, 1], nal, [0, 0, 0, 1], slice)), [body], codec);
    const other = sei(codec, body);
    other.set(new Uint8Array(16), codec === "hevc" ? 5 : 4); // another UUID
    assert.deepEqual(messagesIn(codec, lp(other)), [], codec);
    assert.deepEqual(messagesIn(codec, lp(nal.subarray(0, 100))), [], codec); // truncated
  }
});
