"""One model's parameters: how they are coded against a reference, and how they fold into plain conv weights.

Integers first: W_Q (per layer, OIHW) is the reference's plus the coded residue (or sent absolute). The float
parameters (biases, per-layer affine scale and shift) are the reference's, a quantised delta to them, or float32:

    bias  = bias_ref  + q * 2^e_bias
    scale = scale_ref * (1 + q * 2^e_scale)         (relative: layer scales differ by orders of magnitude)
    shift = shift_ref + q * 2^e_shift
    W_conv = scale * W_Q / S + shift                 (the Conv Quantization Block's f_affine)

each evaluated in float64 and rounded once to float32, so every decoder rebuilds the same bits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import entropy
from .descriptor import Architecture
from .errors import FormatError
from .layout import MAX_ALPHABET, MAX_SYMBOL, write as write_fields

REFERENCE, RESIDUE, ABSOLUTE = 0, 1, 2  # weight modes
SAME, DELTA, RAW = 0, 1, 2  # float parameter modes
FLOAT_KINDS = ("bias", "scale", "shift")


@dataclass
class Params:
    """Rebuilt parameters of one network: what a decoder runs (before folding)."""
    weights: list[np.ndarray]  # int32 W_Q per layer, OIHW
    biases: list[np.ndarray]  # float32 per layer
    scale: np.ndarray  # float32, one per layer
    shift: np.ndarray  # float32, one per layer

    @classmethod
    def zeros(cls, arch: Architecture) -> "Params":
        return cls([np.zeros(l.weight_shape, np.int32) for l in arch.layers],
                   [np.zeros(l.cout, np.float32) for l in arch.layers],
                   np.ones(len(arch.layers), np.float32), np.zeros(len(arch.layers), np.float32))

    def check(self, arch: Architecture) -> None:
        if len(self.weights) != len(arch.layers) or len(self.biases) != len(arch.layers):
            raise ValueError("params do not have one tensor per layer")
        for w, b, l in zip(self.weights, self.biases, arch.layers):
            if w.shape != l.weight_shape or b.shape != (l.cout,):
                raise ValueError(f"tensor shapes {w.shape}, {b.shape} do not match layer {l}")
        if self.scale.shape != (len(arch.layers),) or self.shift.shape != (len(arch.layers),):
            raise ValueError("one affine scale and shift per layer")

    def flat(self, kind: str) -> np.ndarray:
        return np.concatenate(self.biases) if kind == "bias" else getattr(self, kind)

    def hash_bytes(self) -> bytes:
        return b"".join([w.astype("<i2").tobytes() for w in self.weights]
                        + [b.astype("<f4").tobytes() for b in self.biases]
                        + [self.scale.astype("<f4").tobytes(), self.shift.astype("<f4").tobytes()])

    def folded(self, arch: Architecture) -> list[tuple[np.ndarray, np.ndarray]]:
        """Plain float32 conv weights and biases: affine(W_Q / S)."""
        out = []
        with np.errstate(over="ignore", invalid="ignore"):  # a hostile scale may overflow: the reader checks
            for w, b, a, s in zip(self.weights, self.biases, self.scale, self.shift):
                conv = (np.float64(a) * (w.astype(np.float64) / arch.quant_scale) + np.float64(s)).astype(np.float32)
                out.append((conv, b.astype(np.float32)))
        return out


@dataclass
class Coding:
    """How the writer codes one model. Steps are exponents e (step 2^e); None sends float32."""
    bias_step: int | None = -12
    scale_step: int | None = -10
    shift_step: int | None = -12
    weights: str = "auto"  # auto | residue | absolute
    shared_histogram: bool | None = None  # None: whichever is smaller
    lanes: int = 1  # rANS lanes: one is smallest; more serve parallel decoders


def _apply_delta(kind: str, ref: np.ndarray, q: np.ndarray, exp: int) -> np.ndarray:
    step = np.float64(2.0) ** exp
    ref64 = ref.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, refused by the caller
        value = ref64 * (1.0 + q * step) if kind == "scale" else ref64 + q * step
        return value.astype(np.float32)


def _delta_ints(kind: str, ref: np.ndarray, value: np.ndarray, exp: int) -> np.ndarray:
    step = 2.0 ** exp
    ref64, v64 = ref.astype(np.float64), value.astype(np.float64)
    if kind == "scale":
        d = np.divide(v64, ref64, out=np.ones_like(v64), where=ref64 != 0) - 1.0
    else:
        d = v64 - ref64
    return np.rint(d / step).astype(np.int64)


def _split(flat: np.ndarray, arch: Architecture) -> list[np.ndarray]:
    return list(np.split(flat.astype(np.float32), np.cumsum([l.cout for l in arch.layers])[:-1]))


def encode_payload(arch: Architecture, params: Params, reference: Params | None, coding: Coding) -> dict:
    """The model_payload field dict for ``params`` coded against ``reference`` (None: self-contained)."""
    params.check(arch)
    groups: list[np.ndarray] = []
    # --- integer weights
    same = reference is not None and all(np.array_equal(w, r) for w, r in zip(params.weights, reference.weights))
    if reference is None or coding.weights == "absolute":
        wmode, mask_bytes = ABSOLUTE, b""
        layers = [w.ravel() for w in params.weights]
    elif same and coding.weights == "auto":
        wmode, mask_bytes, layers = REFERENCE, b"", []
    else:
        wmode = RESIDUE
        residues = [(w.astype(np.int64) - r).ravel() for w, r in zip(params.weights, reference.weights)]
        present = [bool(np.any(r)) for r in residues]
        mask = np.packbits(np.array(present, dtype=np.uint8), bitorder="little")
        mask_bytes = mask[: (len(arch.layers) + 7) // 8].tobytes()
        layers = [r for r, p in zip(residues, present) if p]
    if layers:
        shared = coding.shared_histogram
        if shared is None:
            shared = _smaller_is_shared(layers)
        groups += [np.concatenate(layers)] if shared else layers
    # --- float parameters
    modes, exps, raw = [wmode], {}, []
    for kind in FLOAT_KINDS:
        value = params.flat(kind)
        ref = reference.flat(kind) if reference is not None else None
        exp = getattr(coding, f"{kind}_step")
        exps[kind] = 0
        if ref is not None and np.array_equal(value, ref):
            modes.append(SAME)
        else:
            q = _delta_ints(kind, ref, value, exp) if ref is not None and exp is not None else None
            if q is None or q.max() - q.min() >= MAX_ALPHABET or np.abs(q).max() > MAX_SYMBOL:
                modes.append(RAW)  # no reference, asked for, or a change too large for the delta alphabet
                raw.append(value.astype(np.float32))
            else:
                modes.append(DELTA)
                exps[kind] = exp
                groups.append(q)
    histograms, lanes, coded = entropy.encode(groups, lanes=coding.lanes)
    raw_values = np.concatenate(raw) if raw else np.zeros(0, np.float32)
    return {
        "modes": modes[0] | modes[1] << 2 | modes[2] << 4 | modes[3] << 6,
        "bias_step_exp": exps["bias"], "scale_step_exp": exps["scale"], "shift_step_exp": exps["shift"],
        "mask_size": len(mask_bytes), "layer_mask": mask_bytes,
        "histogram_count": len(histograms), "histograms": [h.to_fields() for h in histograms],
        "raw_count": int(raw_values.size), "raw": [float(v) for v in raw_values],
        "lane_count": lanes, "coded_size": len(coded), "coded": coded,
    }


def _smaller_is_shared(layers: list[np.ndarray]) -> bool:
    def cost(groups):
        hist, _, coded = entropy.encode(groups)
        return len(coded) + sum(len(write_fields("histogram", h.to_fields())) for h in hist)
    return len(layers) == 1 or cost([np.concatenate(layers)]) <= cost(layers)


def decode_payload(arch: Architecture, f: dict, reference: Params | None, version: int = 2) -> Params:
    """Rebuild a model's parameters from its payload fields (of EL major ``version``); every inconsistency is a
    FormatError."""
    modes = [(f["modes"] >> s) & 3 for s in (0, 2, 4, 6)]
    if 3 in modes:
        raise FormatError(f"reserved coding mode in {f['modes']:#04x}")
    wmode, fmodes = modes[0], dict(zip(FLOAT_KINDS, modes[1:]))
    if version >= 2 and any(f[f"{k}_step_exp"] for k in FLOAT_KINDS if fmodes[k] != DELTA):
        raise FormatError("a step exponent is set for parameters that are not sent as deltas")
    if reference is None and (wmode != ABSOLUTE or any(m != RAW for m in fmodes.values())):
        raise FormatError("a self-contained model (no reference) must send absolute weights and float32 values")
    n_layers = len(arch.layers)
    # --- which integer groups the stream holds
    if wmode == RESIDUE:
        if f["mask_size"] != (n_layers + 7) // 8:
            raise FormatError(f"layer mask of {f['mask_size']} bytes for {n_layers} layers")
        bits = np.unpackbits(np.frombuffer(f["layer_mask"], np.uint8), bitorder="little")
        if bits[n_layers:].any():
            raise FormatError("layer mask marks layers that do not exist")
        present = [i for i in range(n_layers) if bits[i]]
    else:
        if f["mask_size"]:
            raise FormatError("layer mask present without a residue")
        present = list(range(n_layers)) if wmode == ABSOLUTE else []
    sizes_w = [arch.layers[i].weight_count for i in present]
    sizes_f = [{"bias": arch.bias_count, "scale": n_layers, "shift": n_layers}[k]
               for k in FLOAT_KINDS if fmodes[k] == DELTA]
    n_hist = f["histogram_count"] - len(sizes_f)
    if present and n_hist == 1:
        sizes = [sum(sizes_w)] + sizes_f
    elif n_hist == len(present):
        sizes = sizes_w + sizes_f
    else:
        raise FormatError(f"{f['histogram_count']} histograms do not fit {len(present)} layers "
                          f"and {len(sizes_f)} delta groups")
    histograms = [entropy.Histogram.from_fields(h) for h in f["histograms"]]
    values = entropy.decode(histograms, f["coded"], sizes, f.get("lane_count", 0), version)
    # --- integer weights
    ints = values[:len(values) - len(sizes_f)]
    flat_w = np.concatenate(ints) if ints else np.zeros(0, np.int64)
    weights, pos = [], 0
    for i, layer in enumerate(arch.layers):
        base = reference.weights[i].astype(np.int64) if wmode != ABSOLUTE else 0
        if i in present:
            w = base + flat_w[pos:pos + layer.weight_count].reshape(layer.weight_shape)
            pos += layer.weight_count
        else:
            w = np.broadcast_to(base, layer.weight_shape)
        if np.abs(w).max(initial=0) > 32767:
            raise FormatError(f"layer {i}: integer weight beyond int16")
        weights.append(np.array(w, dtype=np.int32))
    # --- float parameters
    deltas = iter(values[len(values) - len(sizes_f):])
    raw = np.asarray(f["raw"], dtype=np.float32)
    rebuilt, rpos = {}, 0
    for kind in FLOAT_KINDS:
        n = arch.bias_count if kind == "bias" else n_layers
        mode, ref = fmodes[kind], reference.flat(kind) if reference is not None else None
        if mode == SAME:
            rebuilt[kind] = ref.copy()
        elif mode == DELTA:
            exp = f[f"{kind}_step_exp"]
            if not -40 <= exp <= 8:
                raise FormatError(f"{kind} step exponent {exp} out of range")
            rebuilt[kind] = _apply_delta(kind, ref, next(deltas), exp)
        else:
            if rpos + n > raw.size:
                raise FormatError("too few float32 values for the parameters in float32 mode")
            rebuilt[kind] = raw[rpos:rpos + n].copy()
            rpos += n
        if not np.all(np.isfinite(rebuilt[kind])):
            raise FormatError(f"non-finite {kind} values")
    if rpos != raw.size:
        raise FormatError(f"{raw.size} float32 values, {rpos} used")
    return Params(weights, _split(rebuilt["bias"], arch), rebuilt["scale"], rebuilt["shift"])
