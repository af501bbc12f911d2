// The EL a video carries in band (schemas/EL_v2.md "In-band carriage"): MTVIR messages in HEVC/H.264 SEI "user
// data unregistered" (NAL units length-prefixed as MP4 and Matroska hold them, or Annex B) and in AV1 metadata
// OBUs of the user-private type 6. Each message is a complete EL for the group(s) starting at one frame.
export const MTVIR_UUID = Uint8Array.from([0x4d, 0xe0, 0xb0, 0x74, 0xe2, 0xc2, 0x52, 0x4c,
  0xba, 0xb7, 0x97, 0x98, 0xee, 0x27, 0x12, 0x83]);
const AV1_METADATA_TYPE = 6, OBU_METADATA = 5;

const isUuid = (b, at) => MTVIR_UUID.every((v, i) => b[at + i] === v);

/** "av1", "h264" or "hevc" from a WebCodecs codec string (av01..., avc1/avc3..., hev1/hvc1...), else null. */
export function codecOf(codecString) {
  const tag = String(codecString).slice(0, 4);
  return tag === "av01" ? "av1" : tag === "avc1" || tag === "avc3" ? "h264" : tag === "hev1" || tag === "hvc1" ? "hevc" : null;
}

/** The MTVIR messages in one coded frame (an encoded chunk's bytes). */
export function messagesIn(codec, data) {
  return codec === "av1" ? av1Messages(data) : codec === "h264" || codec === "hevc" ? seiMessages(codec, data) : [];
}

function av1Messages(b) {
  const out = [];
  let i = 0;
  while (i < b.length) {
    const header = b[i++];
    if (header & 4) i++; // extension byte
    if (header & 0x80 || i > b.length) break;
    let size = b.length - i;
    if (header & 2) { // leb128, at most 8 bytes
      size = 0;
      let k = 0;
      for (; k < 8 && i < b.length; k++) { const v = b[i++]; size += (v & 0x7f) * 2 ** (7 * k); if (!(v & 0x80)) break; }
      if (k === 8 || (b[i - 1] & 0x80)) break;
    }
    if (i + size > b.length) break;
    if (((header >> 3) & 15) === OBU_METADATA && size >= 18 && b[i] === AV1_METADATA_TYPE && isUuid(b, i + 1)) {
      let end = i + size;
      while (end > i + 17 && b[end - 1] === 0) end--; // trailing bits: 0x80, then zero bytes
      if (end > i + 17 && b[end - 1] === 0x80) out.push(b.slice(i + 17, end - 1));
    }
    i += size;
  }
  return out;
}

function nalUnits(b) { // 4-byte lengths where they account for the chunk exactly, else Annex B start codes
  const units = [];
  let i = 0;
  while (i + 4 <= b.length) {
    const n = ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
    i += 4;
    if (n === 0 || i + n > b.length) break;
    units.push(b.subarray(i, i + n));
    i += n;
  }
  if (i === b.length) return units;
  const out = [];
  let start = -1;
  for (let k = 0; k + 2 < b.length; k++) {
    if (b[k] === 0 && b[k + 1] === 0 && b[k + 2] === 1) {
      if (start >= 0) out.push(trimZeros(b.subarray(start, k)));
      start = k + 3;
      k += 2;
    }
  }
  if (start >= 0) out.push(b.subarray(start));
  return out.filter((u) => u.length);
}

function trimZeros(u) { let e = u.length; while (e && u[e - 1] === 0) e--; return u.subarray(0, e); }

function unescape(ebsp) { // emulation prevention: drop 0x03 after two zero bytes
  const out = [];
  let zeros = 0;
  for (const v of ebsp) {
    if (zeros >= 2 && v === 3) { zeros = 0; continue; }
    out.push(v);
    zeros = v === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

function seiMessages(codec, b) {
  const out = [];
  for (const nal of nalUnits(b)) {
    const type = codec === "hevc" ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
    if (nal.length <= 2 || type !== (codec === "hevc" ? 39 : 6)) continue;
    const rbsp = unescape(nal.subarray(codec === "hevc" ? 2 : 1));
    let i = 0;
    while (i + 2 <= rbsp.length && rbsp[i] !== 0x80) {
      let kind = 0, size = 0;
      while (i < rbsp.length && rbsp[i] === 0xff) { kind += 255; i++; }
      if (i >= rbsp.length) break;
      kind += rbsp[i++];
      while (i < rbsp.length && rbsp[i] === 0xff) { size += 255; i++; }
      if (i >= rbsp.length) break;
      size += rbsp[i++];
      if (i + size > rbsp.length) break; // truncated: not a whole message
      if (kind === 5 && size >= 16 && isUuid(rbsp, i)) out.push(rbsp.slice(i + 16, i + size));
      i += size;
    }
  }
  return out;
}
