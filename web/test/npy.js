// The conformance vectors' .npy planes, read from files (tools/npy.js parses them).
import { readFileSync } from "node:fs";
import { parseNpy } from "../tools/npy.js";

export const readNpy = (path) => parseNpy(new Uint8Array(readFileSync(path)), path);
