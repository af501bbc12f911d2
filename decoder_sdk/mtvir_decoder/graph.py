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
          strided: bool = True, bit_depth: int = 0, aligned: bool = False) -> bytes:
    """The serialized ONNX model. ``strided``: an unshuffled plane's first convolution (_strided_heads) and a last
    convolution of few outputs (_strided_tail) each as one strided convolution; off, the ops the descriptor says
    (what int8 quantizers run faster). ``bit_depth``: the input is samples of that depth (0: the float plane).
    ``aligned``: every plane run has H and W multiples of ``tail_block(arch)``, so the strided tail's output needs
    no crop (a Slice: 3 % of the light tier's time)."""
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
    heads = _strided_heads(arch) if strided else {}
    tail = _strided_tail(arch) if strided else None
    for i, n in enumerate(arch.nodes, start=1):
        out = f"n{i}"
        if tail and i == tail[0]:  # the last convolution (and its shuffle) as one of stride q, then the crop
            conv, r, q = tail
            w, b = _as_tail(*folded[n.b], r, q)
            k = arch.layers[n.b].kernel
            nodes.append(make_node("Conv", [names[n.a], const(f"w{n.b}", w), const(f"b{n.b}", b)], [out + "_q"],
                                   kernel_shape=[k + q - 1] * 2, strides=[q, q],
                                   pads=[k // 2] * 2 + [k + q - 2 - k // 2] * 2))
            blocks = relu(out + "_q", n.c)
            nodes.append(make_node("DepthToSpace", [blocks], [out if aligned else out + "_wide"], blocksize=q * r,
                                   mode="DCR"))
            if not aligned:
                nodes += [make_node("Shape", ["luma"], [out + "_size"], start=2),
                          make_node("Slice", [out + "_wide", "zeros2", out + "_size", "axes_hw"], [out])]
                inits += [tensor("zeros2", np.zeros(2, np.int64)), tensor("axes_hw", np.asarray([2, 3], np.int64))]
        elif tail and tail[0] < i:
            out = names[-1]  # the shuffle the tail took in
        elif n.op == CONV:
            w, b = folded[n.b]
            k = arch.layers[n.b].kernel
            src, r = heads.get(n.a, (n.a, 1))
            stride = {}
            if r > 1:  # the unshuffle it alone reads and this convolution, as one of stride r over the plane
                w, stride = _as_strided(w, r), {"strides": [r, r]}
            nodes.append(make_node("Conv", [names[src], const(f"w{n.b}", w), const(f"b{n.b}", b)], [out],
                                          kernel_shape=[r * k] * 2, pads=[r * (k // 2)] * 4, **stride))
            out = relu(out, n.c)
        elif i in heads:
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


def tail_block(arch: Architecture) -> int:
    """The multiple of H and W at which the strided tail's output has the plane's size (1: no tail)."""
    tail = _strided_tail(arch)
    return tail[1] * tail[2] if tail else 1


def _strided_tail(arch: Architecture) -> tuple[int, int, int] | None:
    """(node, r, q) where the network ends in a convolution of r^2 outputs at scale r read only by a shuffle of r
    (r = 2: the light tier), or of one output at scale 1 (r = 1: the full tier): ONNX Runtime's blocked convolutions
    compute 16 outputs there and keep r^2 (the light tier's last convolution took as long as its middle one). One
    convolution of stride q = 4 / r computes the (q r)^2 outputs of each q x q block of positions instead: the same
    sums (the light tier at 1080p: 11 ms -> 5 ms, and its shuffle of 16 channels 5 -> 2 ms)."""
    nodes, last = arch.nodes, len(arch.nodes)
    end = nodes[-1]
    if end.op == CONV and arch.layers[end.b].cout == 1 and arch.scales()[-1] == 1:
        return last, 1, 4
    # the convolution just before the last node: the shuffle is its only reader
    if (end.op == SHUFFLE and end.b == 2 and end.a == last - 1 and nodes[end.a - 1].op == CONV
            and arch.layers[nodes[end.a - 1].b].cout == 4 and arch.scales()[-1] == 1):
        return end.a, 2, 2
    return None


def _as_tail(w: np.ndarray, b: np.ndarray, r: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """A k x k kernel of r^2 outputs (output s_y r + s_x: row s_y, column s_x of an r x r block) at each position as
    a (k + q - 1)^2 kernel of stride q with an output for each of the q r x q r samples of a q x q block of positions
    (DepthToSpace's DCR order: row o_y = d_y r + s_y, column o_x, channel o_y q r + o_x); position (d_y, d_x) of the
    block reads the input from row d_y, column d_x of the wider kernel."""
    _, cin, k, _ = w.shape
    wide, bias = np.zeros(((q * r) ** 2, cin, k + q - 1, k + q - 1), w.dtype), np.zeros((q * r) ** 2, b.dtype)
    for dy in range(q):
        for dx in range(q):
            for sy in range(r):
                for sx in range(r):
                    o = (dy * r + sy) * q * r + dx * r + sx
                    wide[o, :, dy:dy + k, dx:dx + k], bias[o] = w[sy * r + sx], b[sy * r + sx]
    return wide, bias


def _as_strided(w: np.ndarray, r: int) -> np.ndarray:
    """A k x k kernel over an r x r unshuffle's r^2 channels (channel i r + j: the block's row i, column j) as one
    (r k) x (r k) kernel over the plane: tap (ky, kx) of channel (i, j) lands on row r ky + i, column r kx + j."""
    cout, _, k, _ = w.shape
    return w.reshape(cout, r, r, k, k).transpose(0, 3, 1, 4, 2).reshape(cout, 1, r * k, r * k)
