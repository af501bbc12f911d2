"""The ONNX graph of a network: standard ops only, built from the descriptor and folded weights.

Input ``luma``: float32 [1, 1, H, W] in [0, 1], H and W multiples of the network's ``block`` (the Enhancer extends
planes); or ``samples`` of a bit depth (uint8 to 8 bits, else uint16), divided by the peak in the graph (the spec's
step 1, the same float32 division: what a player hands over, a quarter of the bytes). Output ``enhanced``: float32,
same shape, not yet clipped.
With fp16 the body runs in float16; the input offset and the global residual stay float32 for precision.
The model comes as serialized ONNX bytes (``onnx_writer``: no onnx package needed to run an EL).
"""
from __future__ import annotations

import numpy as np

from .descriptor import ADD, CONV, SE, SHUFFLE, UNSHUFFLE, Architecture
from .onnx_writer import FLOAT, FLOAT16, UINT8, UINT16, model as make_model, node as make_node, tensor, value_info

OPSET = 17
IR_VERSION = 8  # ONNX Runtime 1.31 reads IR <= 13


def build(arch: Architecture, folded: list[tuple[np.ndarray, np.ndarray]], precision: str = "fp32",
          strided_heads: bool = True, bit_depth: int = 0) -> bytes:
    """The serialized ONNX model. ``strided_heads``: an unshuffled plane's first convolution as one strided
    convolution (_strided_heads); off, SpaceToDepth then the convolution, as the descriptor says (what int8
    quantizers run faster). ``bit_depth``: the input is samples of that depth (0: the float plane)."""
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16, not {precision!r}")
    dtype = np.float16 if precision == "fp16" else np.float32
    nodes, inits = [], []

    def const(name: str, value) -> str:
        inits.append(tensor(name, np.asarray(value, dtype=dtype)))
        return name

    shape = [1, 1, "height", "width"]
    source = value_info("luma", FLOAT, shape)
    if bit_depth:
        source = value_info("samples", UINT8 if bit_depth <= 8 else UINT16, shape)
        nodes += [make_node("Cast", ["samples"], ["samples_float"], to=FLOAT),
                  make_node("Div", ["samples_float", "peak"], ["luma"])]
        inits.append(tensor("peak", np.asarray((1 << bit_depth) - 1, np.float32)))
    nodes.append(make_node("Sub", ["luma", "offset"], ["centred"]))
    inits.append(tensor("offset", np.asarray(arch.input_offset, np.float32)))
    names = ["centred"]
    if precision == "fp16":
        nodes.append(make_node("Cast", ["centred"], ["centred16"], to=FLOAT16))
        names = ["centred16"]

    def relu(out: str, act: int) -> str:
        if act:
            nodes.append(make_node("Relu", [out], [out + "_relu"]))
            return out + "_relu"
        return out

    channels = arch.channels()
    strided = _strided_heads(arch) if strided_heads else {}
    for i, n in enumerate(arch.nodes, start=1):
        out = f"n{i}"
        if n.op == CONV:
            w, b = folded[n.b]
            k = arch.layers[n.b].kernel
            src, r = strided.get(n.a, (n.a, 1))
            stride = {}
            if r > 1:  # the unshuffle it alone reads and this convolution, as one of stride r over the plane
                w, stride = _as_strided(w, r), {"strides": [r, r]}
            nodes.append(make_node("Conv", [names[src], const(f"w{n.b}", w), const(f"b{n.b}", b)], [out],
                                          kernel_shape=[r * k] * 2, pads=[r * (k // 2)] * 4, **stride))
            out = relu(out, n.c)
        elif i in strided:
            pass  # its reader, a convolution of stride r, reads the plane itself
        elif n.op == ADD:
            nodes.append(make_node("Add", [names[n.a], names[n.b]], [out]))
            out = relu(out, n.c)
        elif n.op == SE:
            w, b = folded[n.b]
            k, c = n.c, w.shape[1]
            # the k x k mean (AveragePool, count_include_pad) as a vertical then a horizontal depthwise conv: the
            # same values, and 5-10 % of a frame's time less than AveragePool in ONNX Runtime's CPU provider
            tap = np.full((c, 1, k, 1), 1.0 / k)
            nodes += [
                make_node("Conv", [names[n.a], const(f"mean{i}_v", tap)], [out + "_rows"], group=c,
                                 kernel_shape=[k, 1], pads=[k // 2, 0, k // 2, 0]),
                make_node("Conv", [out + "_rows", const(f"mean{i}_h", tap.reshape(c, 1, 1, k))],
                                 [out + "_pool"], group=c, kernel_shape=[1, k], pads=[0, k // 2, 0, k // 2]),
                make_node("Conv", [out + "_pool", const(f"w{n.b}", w), const(f"b{n.b}", b)], [out + "_fc"],
                                 kernel_shape=[1, 1]),
                make_node("Sigmoid", [out + "_fc"], [out + "_gate"]),
                make_node("Mul", [names[n.a], out + "_gate"], [out]),
            ]
        elif n.op == UNSHUFFLE:
            # SpaceToDepth orders channels (i * r + j) * C + c; the descriptor's order is c * r^2 + i * r + j
            c, r = channels[n.a], n.b
            if c == 1:
                nodes.append(make_node("SpaceToDepth", [names[n.a]], [out], blocksize=r))
            else:
                perm = [q * c + ch for ch in range(c) for q in range(r * r)]
                inits.append(tensor(f"perm{i}", np.asarray(perm, np.int64)))
                nodes += [make_node("SpaceToDepth", [names[n.a]], [out + "_dcr"], blocksize=r),
                          make_node("Gather", [out + "_dcr", f"perm{i}"], [out], axis=1)]
        elif n.op == SHUFFLE:
            nodes.append(make_node("DepthToSpace", [names[n.a]], [out], blocksize=n.b, mode="CRD"))
        names.append(out)
    last = names[-1]
    if precision == "fp16":
        nodes.append(make_node("Cast", [last], [last + "_32"], to=FLOAT))
        last = last + "_32"
    if arch.global_residual:
        nodes.append(make_node("Add", ["luma", last], ["enhanced"]))
    else:
        nodes.append(make_node("Identity", [last], ["enhanced"]))
    return make_model(nodes, "mtvir", [source], [value_info("enhanced", FLOAT, shape)],
                      inits, OPSET, IR_VERSION, "mtvir_decoder")


def _strided_heads(arch: Architecture) -> dict[int, tuple[int, int]]:
    """Unshuffles of a single plane read by one convolution alone: {unshuffle's index: (its source, block)}. The
    pair is one convolution of the plane with an (r k) x (r k) kernel and stride r: the same sums, and ONNX Runtime
    skips SpaceToDepth's pass over the plane (the light tier: 8 % of its time at 1080p)."""
    channels = arch.channels()
    readers = [[n for n in arch.nodes if n.a == i or (n.op == ADD and n.b == i)] for i in range(len(arch.nodes) + 1)]
    return {i: (n.a, n.b) for i, n in enumerate(arch.nodes, start=1)
            if n.op == UNSHUFFLE and channels[n.a] == 1 and len(readers[i]) == 1 and readers[i][0].op == CONV}


def _as_strided(w: np.ndarray, r: int) -> np.ndarray:
    """A k x k kernel over an r x r unshuffle's r^2 channels (channel i r + j: the block's row i, column j) as one
    (r k) x (r k) kernel over the plane: tap (ky, kx) of channel (i, j) lands on row r ky + i, column r kx + j."""
    cout, _, k, _ = w.shape
    return w.reshape(cout, r, r, k, k).transpose(0, 3, 1, 4, 2).reshape(cout, 1, r * k, r * k)
