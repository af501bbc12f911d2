// A reader of the .npy files the conformance vectors keep their planes in (uint8 and little-endian uint16, 2-D).
import { readFileSync } from "node:fs";

export function readNpy(path) {
  const b = readFileSync(path);
  if (b.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${path}: not a .npy file`);
  const major = b[6], len = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8), start = major === 1 ? 10 : 12;
  const header = b.toString("latin1", start, start + len);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1], shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const [height, width] = shape.split(",").filter((s) => s.trim()).map(Number);
  const body = b.subarray(start + len);
  const copy = new Uint8Array(body); // aligned
  const types = { "|u1": Uint8Array, "<u2": Uint16Array };
  if (!types[descr]) throw new Error(`${path}: dtype ${descr}`);
  return { samples: new types[descr](copy.buffer, 0, width * height), width, height };
}
