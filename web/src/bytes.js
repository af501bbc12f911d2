// Little-endian fields, the format's uvar/svar, CRC-32 and SHA-256: the byte-level tools the EL's syntax reads with.
import { FormatError } from "./errors.js";

export class Reader {
  /** @param {Uint8Array} data */
  constructor(data, pos = 0, end = data.length) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = pos;
    this.end = end;
  }
  take(n) {
    if (this.pos + n > this.end) throw new FormatError("truncated");
    this.pos += n;
    return this.pos - n;
  }
  raw(n) { const at = this.take(n); return this.data.subarray(at, at + n); }
  u8() { return this.data[this.take(1)]; }
  i8() { return this.view.getInt8(this.take(1)); }
  u16() { return this.view.getUint16(this.take(2), true); }
  u32() { return this.view.getUint32(this.take(4), true); }
  f32() { return this.view.getFloat32(this.take(4), true); }
  /** LEB128 of at most 5 bytes, canonical (no final zero byte but for 0 itself), below 2^32. */
  uvar() {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) {
        if ((i && byte === 0) || value >= 2 ** 32) throw new FormatError("non-canonical or oversized uvar");
        return value;
      }
    }
    throw new FormatError("uvar longer than 5 bytes");
  }
  /** zigzag: 0, -1, 1, -2, ... */
  svar() {
    const z = this.uvar();
    return z % 2 ? -(z + 1) / 2 : z / 2;
  }
  sub(n) { const at = this.take(n); return new Reader(this.data, at, at + n); }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO-HDLC, zlib's) of bytes. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** SHA-256 through WebCrypto (browsers, node >= 19): a Promise of the 32 bytes. */
export async function sha256(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes));
}

export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function equalBytes(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
