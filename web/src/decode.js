// An EL's model of one plane, from the file's bytes to folded parameters: the containers (v2, v3 tiers, v4 planes),
// the reference check, the rebuild and every rule across them (schemas/EL_v2.md).
import { sha256, concat, equalBytes } from "./bytes.js";
import { FormatError, ReferenceModelError } from "./errors.js";
import { version, parse, colourTable, tierTable, planeSize, descriptorBytes, sameDescriptor, complexity, PLANE_BITS } from "./format.js";
import { rebuild, fold, paramsBytes } from "./rebuild.js";

/** @returns {Promise<{el: object, models: {first: number, count: number, params: object}[]} | null>} the model
 * of ``plane`` ("y", "u", "v") in ``tier`` (default: the most complex the EL has); null when the EL has none for
 * that plane (it plays as decoded). ``reference``: the bytes of the reference model the EL names, if it names one,
 * or an async function of its id (32 hex digits) that gives them (null when unknown). */
export async function decodePlane(data, reference = null, tier = null, plane = "y") {
  const v = version(data);
  if (v === 4) {
    const table = colourTable(data);
    const entries = pick(table.tiers, tier);
    const found = entries.filter((e) => e.mask & PLANE_BITS[plane]);
    if (!found.length) return null;
    const [{ complexity: cost, body }] = found;
    if (body[4] === 3 || body[4] === 4) throw new FormatError("an entry's EL of version 3 or 4");
    const out = await decodePlane(body, reference);
    const [w, h] = planeSize(table.facts[0], table.facts[1], table.format, plane);
    checkFacts(out.el, [w, h, table.facts[2], table.facts[3]], cost, "an entry's");
    return out;
  }
  if (plane !== "y") return null;
  if (v === 3) {
    const table = tierTable(data);
    const { complexity: cost, body } = pick(table.tiers, tier);
    if (body[4] === 3) throw new FormatError("a tier's EL of version 3");
    const out = await decodePlane(body, reference);
    checkFacts(out.el, table.facts, cost, "a tier's");
    return out;
  }
  const el = parse(data);
  let d = el.descriptor, ref = null;
  if (el.referenceId.some((b) => b)) {
    if (typeof reference === "function") reference = await reference(toHex(el.referenceId));
    if (!reference) throw new ReferenceModelError(`the EL needs its reference model ${toHex(el.referenceId)} (give its bytes, or a function of its id, as reference)`);
    const r = await decodePlane(reference, null);
    if (r.models.length !== 1) throw new ReferenceModelError("a reference holds exactly one model");
    ref = r.models[0].params; // the reference's first_frame and frame_count are ignored
    const id = (await sha256(concat([descriptorBytes(r.el.descriptor), paramsBytes(ref)]))).subarray(0, 16);
    if (!equalBytes(id, el.referenceId)) throw new ReferenceModelError("wrong reference: the EL names another one");
    if (d && !sameDescriptor(d, r.el.descriptor)) throw new FormatError("the EL's descriptor differs from its reference's");
    d = r.el.descriptor;
  }
  if (!d || complexity(d).some((x, i) => x !== el.complexity[i]))
    throw new FormatError("no descriptor, or complexity fields that do not match it");
  const models = [];
  let end = 0;
  for (const { first, count, payload } of el.models) {
    if (first < end || (el.frameCount && first + count > el.frameCount))
      throw new FormatError("groups out of order, overlapping, or beyond the header's frame count");
    end = first + count;
    models.push({ first, count, params: fold(rebuild(payload, d, ref, el.minor), d) });
  }
  el.descriptor = d;
  return { el, models };
}

/** A ``reference`` function for decodePlane that fetches reference models from a folder served with an index.json
 * of their ids (as serve.js serves the shipped ones under /references/). */
export function referencesAt(folderUrl) {
  let index = null;
  return async (id) => {
    index ??= fetch(new URL("index.json", folderUrl)).then((r) => r.json());
    const name = (await index)[id];
    return name ? new Uint8Array(await (await fetch(new URL(name, folderUrl))).arrayBuffer()) : null;
  };
}

const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The id of a reference model file (32 hex digits): SHA-256 of its descriptor and parameters, first 16 bytes. */
export async function referenceId(data) {
  const { el, models } = await decodePlane(data, null);
  if (models.length !== 1) throw new ReferenceModelError("a reference holds exactly one model");
  return toHex((await sha256(concat([descriptorBytes(el.descriptor), paramsBytes(models[0].params)]))).subarray(0, 16));
}

function pick(tiers, name) {
  const names = Object.keys(tiers);
  if (name && !(name in tiers)) throw new FormatError(`no ${name} tier in this EL (it has ${names.join(", ")})`);
  return tiers[name || names.at(-1)];
}

function checkFacts(el, facts, cost, what) {
  if ([el.width, el.height, el.bitDepth, el.frameCount].some((v, i) => v !== facts[i])
      || el.complexity.some((v, i) => v !== cost[i]))
    throw new FormatError(`${what} EL whose frame facts or complexity differ from the table's`);
}
