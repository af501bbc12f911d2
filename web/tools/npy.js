// A reader of the .npy files the conformance vectors keep their planes in (uint8 and little-endian uint16, 2-D),
// from bytes: node's tests and the browser's vector page share it.
export function parseNpy(bytes, name = "npy") {
  const text = (a, b) => String.fromCharCode(...bytes.subarray(a, b));
  if (text(1, 6) !== "NUMPY") throw new Error(`${name}: not a .npy file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6], len = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true), start = major === 1 ? 10 : 12;
  const header = text(start, start + len);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1], shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${name}: Fortran order`);
  const [height, width] = shape.split(",").filter((s) => s.trim()).map(Number);
  const copy = bytes.slice(start + len); // aligned
  const types = { "|u1": Uint8Array, "<u2": Uint16Array };
  if (!types[descr]) throw new Error(`${name}: dtype ${descr}`);
  return { samples: new types[descr](copy.buffer, 0, width * height), width, height };
}
