"""The ONNX graph of a network: standard ops only, built from the descriptor and folded weights.

Input ``luma``: float32 [1, 1, H, W] in [0, 1], H and W multiples of the network's ``block`` (the Enhancer extends
planes); output ``enhanced``: float32, same shape, not yet clipped.
With fp16 the body runs in float16; the input offset and the global residual stay float32 for precision.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .descriptor import ADD, CONV, SE, SHUFFLE, UNSHUFFLE, Architecture

OPSET = 17
IR_VERSION = 8  # ONNX Runtime 1.31 reads IR <= 13; onnx 1.23 would write 14 by default


def build(arch: Architecture, folded: list[tuple[np.ndarray, np.ndarray]], precision: str = "fp32",
          check: bool = True) -> onnx.ModelProto:
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16, not {precision!r}")
    dtype = np.float16 if precision == "fp16" else np.float32
    nodes, inits = [], []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    nodes.append(helper.make_node("Sub", ["luma", "offset"], ["centred"]))
    inits.append(numpy_helper.from_array(np.asarray(arch.input_offset, np.float32), "offset"))
    names = ["centred"]
    if precision == "fp16":
        nodes.append(helper.make_node("Cast", ["centred"], ["centred16"], to=TensorProto.FLOAT16))
        names = ["centred16"]

    def relu(out: str, act: int) -> str:
        if act:
            nodes.append(helper.make_node("Relu", [out], [out + "_relu"]))
            return out + "_relu"
        return out

    channels = arch.channels()
    for i, n in enumerate(arch.nodes, start=1):
        out = f"n{i}"
        if n.op == CONV:
            w, b = folded[n.b]
            k = arch.layers[n.b].kernel
            nodes.append(helper.make_node("Conv", [names[n.a], const(f"w{n.b}", w), const(f"b{n.b}", b)], [out],
                                          kernel_shape=[k, k], pads=[k // 2] * 4))
            out = relu(out, n.c)
        elif n.op == ADD:
            nodes.append(helper.make_node("Add", [names[n.a], names[n.b]], [out]))
            out = relu(out, n.c)
        elif n.op == SE:
            w, b = folded[n.b]
            k, c = n.c, w.shape[1]
            # the k x k mean (AveragePool, count_include_pad) as a vertical then a horizontal depthwise conv: the
            # same values, and 5-10 % of a frame's time less than AveragePool in ONNX Runtime's CPU provider
            tap = np.full((c, 1, k, 1), 1.0 / k)
            nodes += [
                helper.make_node("Conv", [names[n.a], const(f"mean{i}_v", tap)], [out + "_rows"], group=c,
                                 kernel_shape=[k, 1], pads=[k // 2, 0, k // 2, 0]),
                helper.make_node("Conv", [out + "_rows", const(f"mean{i}_h", tap.reshape(c, 1, 1, k))],
                                 [out + "_pool"], group=c, kernel_shape=[1, k], pads=[0, k // 2, 0, k // 2]),
                helper.make_node("Conv", [out + "_pool", const(f"w{n.b}", w), const(f"b{n.b}", b)], [out + "_fc"],
                                 kernel_shape=[1, 1]),
                helper.make_node("Sigmoid", [out + "_fc"], [out + "_gate"]),
                helper.make_node("Mul", [names[n.a], out + "_gate"], [out]),
            ]
        elif n.op == UNSHUFFLE:
            # SpaceToDepth orders channels (i * r + j) * C + c; the descriptor's order is c * r^2 + i * r + j
            c, r = channels[n.a], n.b
            if c == 1:
                nodes.append(helper.make_node("SpaceToDepth", [names[n.a]], [out], blocksize=r))
            else:
                perm = [q * c + ch for ch in range(c) for q in range(r * r)]
                inits.append(numpy_helper.from_array(np.asarray(perm, np.int64), f"perm{i}"))
                nodes += [helper.make_node("SpaceToDepth", [names[n.a]], [out + "_dcr"], blocksize=r),
                          helper.make_node("Gather", [out + "_dcr", f"perm{i}"], [out], axis=1)]
        elif n.op == SHUFFLE:
            nodes.append(helper.make_node("DepthToSpace", [names[n.a]], [out], blocksize=n.b, mode="CRD"))
        names.append(out)
    last = names[-1]
    if precision == "fp16":
        nodes.append(helper.make_node("Cast", [last], [last + "_32"], to=TensorProto.FLOAT))
        last = last + "_32"
    if arch.global_residual:
        nodes.append(helper.make_node("Add", ["luma", last], ["enhanced"]))
    else:
        nodes.append(helper.make_node("Identity", [last], ["enhanced"]))
    shape = [1, 1, "height", "width"]
    graph = helper.make_graph(nodes, "mtvir", [helper.make_tensor_value_info("luma", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("enhanced", TensorProto.FLOAT, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mtvir_decoder")
    model.ir_version = IR_VERSION
    if check:
        onnx.checker.check_model(model)
    return model
