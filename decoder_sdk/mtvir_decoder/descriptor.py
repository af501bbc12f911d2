"""The architecture descriptor: the network as data, so decoders build the graph without hard-coded topology.

A network is a list of convolution layers (the tensors the EL codes) and a list of nodes that wire them.
Node 0 is the input luma in [0, 1] minus ``input_offset``; node i >= 1 is the i-th entry of ``nodes``:

- ``CONV  (src, layer, act)``: layer's convolution of node ``src`` (zero padding k // 2), then ReLU if act == 1;
- ``ADD   (a, b, act)``: node a + node b, then ReLU if act == 1;
- ``SE    (src, layer, window)``: squeeze-excitation, ``src * sigmoid(conv1x1(boxmean_window(src)))``. The mean is
  over a ``window x window`` box centred on each pixel, zeros outside the frame counted in (divisor window^2):
  a *local* pooling, so that 35x35 training patches, whole frames and tiles compute the same function.
- ``UNSHUFFLE (src, r, 0)``: each r x r block of a plane becomes r^2 channels of one sample (channel
  ``c * r^2 + i * r + j`` holds sample (i, j) of the block of channel c): the plane gets r times smaller, so the
  convolutions after it cost 1 / r^2 per pixel (EL 2.1; a light network runs wide and fast this way);
- ``SHUFFLE   (src, r, 0)``: the inverse.

A node's *scale* is how many pixels of the frame one of its samples spans along each side (1 for the input,
times r after an unshuffle, divided by r after a shuffle); ``block``, the largest scale, must divide the plane,
which a decoder extends with zeros at the bottom and right (see EL_v2.md).

The last node is the network's output (one channel); with ``global_residual`` the enhanced luma is input + output.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction

from .errors import FormatError, LimitError
from .layout import MAX_PARAMS

CONV, ADD, SE, UNSHUFFLE, SHUFFLE = 1, 2, 3, 4, 5
OP_NAMES = {CONV: "conv", ADD: "add", SE: "se", UNSHUFFLE: "unshuffle", SHUFFLE: "shuffle"}
RESHAPES = (UNSHUFFLE, SHUFFLE)  # ops of EL 2.1

MAX_LAYERS = 64
MAX_NODES = 128
MAX_CHANNELS = 64
KERNELS = (1, 3, 5, 7)
MAX_WINDOW = 31
MAX_BLOCK = 8  # r of one unshuffle or shuffle


@dataclass(frozen=True)
class Layer:
    cin: int
    cout: int
    kernel: int

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.cout, self.cin, self.kernel, self.kernel)

    @property
    def weight_count(self) -> int:
        return self.cout * self.cin * self.kernel * self.kernel


@dataclass(frozen=True)
class Node:
    op: int
    a: int
    b: int
    c: int


@dataclass(frozen=True)
class Architecture:
    layers: tuple[Layer, ...]
    nodes: tuple[Node, ...]
    quant_scale: int = 10
    input_offset: float = 0.5
    global_residual: bool = True

    def __post_init__(self):
        self.validate()

    # --- derived facts -------------------------------------------------------------------------------
    @property
    def weight_count(self) -> int:
        return sum(l.weight_count for l in self.layers)

    @property
    def bias_count(self) -> int:
        return sum(l.cout for l in self.layers)

    @property
    def param_count(self) -> int:
        return self.weight_count + self.bias_count

    @property
    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per output pixel, rounded up: each convolution (and the SE scaling) divided by the
        square of its node's scale (pooling adds excluded)."""
        scale = self.scales()
        macs = Fraction(0)
        for i, n in enumerate(self.nodes, start=1):
            if n.op == CONV:
                macs += Fraction(self.layers[n.b].weight_count, scale[i] ** 2)
            elif n.op == SE:
                macs += Fraction(self.layers[n.b].weight_count + self.layers[n.b].cout, scale[i] ** 2)
        return math.ceil(macs)

    @property
    def values_per_pixel(self) -> float:
        """The most values any node holds per pixel of the plane (channels over its scale squared): what a tile's
        memory grows with (16 for the full network, 4 for the light tier's)."""
        scale, channels = self.scales(), self.channels()
        return max(c / s ** 2 for c, s in zip(channels, scale))

    @property
    def receptive_radius(self) -> int:
        """How far (pixels) an output pixel sees: the halo a tile needs so that tiled == whole frame. A conv adds
        k // 2 samples of its scale, an SE window // 2, an unshuffle r - 1 pixels of its source's scale (where in
        its block a pixel sits), a shuffle nothing."""
        radius, scale = [0], self.scales()
        for i, n in enumerate(self.nodes, start=1):
            if n.op == CONV:
                radius.append(radius[n.a] + self.layers[n.b].kernel // 2 * scale[i])
            elif n.op == ADD:
                radius.append(max(radius[n.a], radius[n.b]))
            elif n.op == SE:
                radius.append(radius[n.a] + n.c // 2 * scale[i])
            elif n.op == UNSHUFFLE:
                radius.append(radius[n.a] + (n.b - 1) * scale[n.a])
            else:
                radius.append(radius[n.a])
        return radius[-1]

    @property
    def block(self) -> int:
        """The largest scale of any node: planes are extended to a multiple of it, tiles start on it."""
        return max(self.scales())

    @property
    def minor_version(self) -> int:
        """The EL minor version that defines every op used: 1 with unshuffle or shuffle, else 0."""
        return 1 if any(n.op in RESHAPES for n in self.nodes) else 0

    def scales(self) -> list[int]:
        """Scale of node 0 (1) and of every node."""
        scale = [1]
        for n in self.nodes:
            scale.append(scale[n.a] * n.b if n.op == UNSHUFFLE else scale[n.a] // n.b if n.op == SHUFFLE
                         else scale[n.a])
        return scale

    def channels(self) -> list[int]:
        """Channel count of node 0 (input) and of every node."""
        ch = [1]
        for n in self.nodes:
            ch.append(self.layers[n.b].cout if n.op == CONV else ch[n.a] * n.b ** 2 if n.op == UNSHUFFLE
                      else ch[n.a] // n.b ** 2 if n.op == SHUFFLE else ch[n.a])
        return ch

    # --- checks --------------------------------------------------------------------------------------
    def validate(self) -> None:
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            raise LimitError(f"layer count {len(self.layers)} outside 1..{MAX_LAYERS}")
        if not 1 <= len(self.nodes) <= MAX_NODES:
            raise LimitError(f"node count {len(self.nodes)} outside 1..{MAX_NODES}")
        if not 1 <= self.quant_scale <= 1024:
            raise LimitError(f"quantization scale {self.quant_scale} outside 1..1024")
        if not (-1.0 <= self.input_offset <= 1.0):  # also rejects NaN
            raise FormatError(f"input offset {self.input_offset} outside [-1, 1]")
        for i, l in enumerate(self.layers):
            if not (1 <= l.cin <= MAX_CHANNELS and 1 <= l.cout <= MAX_CHANNELS):
                raise LimitError(f"layer {i}: channels {l.cin}->{l.cout} outside 1..{MAX_CHANNELS}")
            if l.kernel not in KERNELS:
                raise LimitError(f"layer {i}: kernel {l.kernel} not one of {KERNELS}")
        if self.param_count > MAX_PARAMS:
            raise LimitError(f"{self.param_count:,} parameters: more than a model may have ({MAX_PARAMS:,})")
        used = [0] * len(self.layers)
        ch, scale = [1], [1]
        for i, n in enumerate(self.nodes, start=1):
            if n.op == CONV:
                self._check_src(i, n.a)
                layer = self._layer(i, n.b)
                if ch[n.a] != layer.cin:
                    raise FormatError(f"node {i}: conv expects {layer.cin} channels, gets {ch[n.a]}")
                if n.c not in (0, 1):
                    raise FormatError(f"node {i}: activation {n.c} unknown")
                used[n.b] += 1
                ch.append(layer.cout)
            elif n.op == ADD:
                self._check_src(i, n.a)
                self._check_src(i, n.b)
                if ch[n.a] != ch[n.b] or scale[n.a] != scale[n.b]:
                    raise FormatError(f"node {i}: add of {ch[n.a]} and {ch[n.b]} channels, scales {scale[n.a]} and "
                                      f"{scale[n.b]}")
                if n.c not in (0, 1):
                    raise FormatError(f"node {i}: activation {n.c} unknown")
                ch.append(ch[n.a])
            elif n.op == SE:
                self._check_src(i, n.a)
                layer = self._layer(i, n.b)
                if layer.kernel != 1 or layer.cin != ch[n.a] or layer.cout != ch[n.a]:
                    raise FormatError(f"node {i}: SE needs a 1x1 {ch[n.a]}->{ch[n.a]} layer")
                if not (1 <= n.c <= MAX_WINDOW and n.c % 2 == 1):
                    raise LimitError(f"node {i}: SE window {n.c} not odd in 1..{MAX_WINDOW}")
                used[n.b] += 1
                ch.append(ch[n.a])
            elif n.op in RESHAPES:
                self._check_src(i, n.a)
                if not 2 <= n.b <= MAX_BLOCK or n.c != 0:
                    raise LimitError(f"node {i}: {OP_NAMES[n.op]} by {n.b} (2..{MAX_BLOCK}), operand c {n.c} (0)")
                if n.op == UNSHUFFLE:
                    if ch[n.a] * n.b ** 2 > MAX_CHANNELS or scale[n.a] * n.b > 64:
                        raise LimitError(f"node {i}: unshuffle to {ch[n.a] * n.b ** 2} channels, scale "
                                         f"{scale[n.a] * n.b} (at most {MAX_CHANNELS}, 64)")
                    ch.append(ch[n.a] * n.b ** 2)
                    scale.append(scale[n.a] * n.b)
                    continue
                if ch[n.a] % n.b ** 2 or scale[n.a] % n.b:
                    raise FormatError(f"node {i}: shuffle by {n.b} of {ch[n.a]} channels at scale {scale[n.a]}")
                ch.append(ch[n.a] // n.b ** 2)
                scale.append(scale[n.a] // n.b)
                continue
            else:
                raise FormatError(f"node {i}: unknown op {n.op}")
            scale.append(scale[n.a])
        if any(u != 1 for u in used):
            raise FormatError("every layer must be used by exactly one node")
        if ch[-1] != 1 or scale[-1] != 1:
            raise FormatError(f"the output node has {ch[-1]} channels at scale {scale[-1]}, not 1 at scale 1")

    def _check_src(self, i: int, src: int) -> None:
        if not 0 <= src < i:
            raise FormatError(f"node {i}: source {src} is not an earlier node")

    def _layer(self, i: int, index: int) -> Layer:
        if not 0 <= index < len(self.layers):
            raise FormatError(f"node {i}: layer {index} does not exist")
        return self.layers[index]

    # --- bytes ---------------------------------------------------------------------------------------
    def to_fields(self) -> dict:
        """The descriptor as the field dict of the bitstream layout (see ``layout.py``)."""
        return {
            "quant_scale": self.quant_scale,
            "input_offset": self.input_offset,
            "flags": 1 if self.global_residual else 0,
            "layer_count": len(self.layers),
            "layers": [{"cin": l.cin, "cout": l.cout, "kernel": l.kernel} for l in self.layers],
            "node_count": len(self.nodes),
            "nodes": [{"op": n.op, "a": n.a, "b": n.b, "c": n.c} for n in self.nodes],
        }

    @classmethod
    def from_fields(cls, f: dict) -> "Architecture":
        if f["flags"] & ~1:
            raise FormatError(f"descriptor flags {f['flags']:#x} use reserved bits")
        return cls(
            layers=tuple(Layer(l["cin"], l["cout"], l["kernel"]) for l in f["layers"]),
            nodes=tuple(Node(n["op"], n["a"], n["b"], n["c"]) for n in f["nodes"]),
            quant_scale=f["quant_scale"],
            input_offset=f["input_offset"],
            global_residual=bool(f["flags"] & 1),
        )

    def canonical_bytes(self) -> bytes:
        """A fixed serialisation used for hashing (the reference id)."""
        out = [struct.pack("<HfBB", self.quant_scale, self.input_offset, int(self.global_residual), len(self.layers))]
        out += [struct.pack("<BBB", l.cin, l.cout, l.kernel) for l in self.layers]
        out.append(struct.pack("<B", len(self.nodes)))
        out += [struct.pack("<BBBB", n.op, n.a, n.b, n.c) for n in self.nodes]
        return b"".join(out)


def sefcnn(channels: int = 16, stages: int = 3, convs_per_stage: int = 5, window: int = 9,
           quant_scale: int = 10) -> Architecture:
    """The MTVIR network (SEFCNN-based): head 3x3 1->C, a 3x3 conv, ``stages`` residual stages of
    ``convs_per_stage`` 3x3 convs closed by squeeze-excitation (a 1x1 conv), a 3x3 conv, a 3x3 tail C->1.
    With the defaults: 22 convs, 40,224 weights, 337 biases."""
    layers: list[Layer] = []
    nodes: list[Node] = []

    def conv(src: int, cin: int, cout: int, k: int, act: int) -> int:
        layers.append(Layer(cin, cout, k))
        nodes.append(Node(CONV, src, len(layers) - 1, act))
        return len(nodes)

    x = conv(0, 1, channels, 3, 1)
    x = conv(x, channels, channels, 3, 1)
    for _ in range(stages):
        y = x
        for j in range(convs_per_stage):
            y = conv(y, channels, channels, 3, 1 if j < convs_per_stage - 1 else 0)
        layers.append(Layer(channels, channels, 1))
        nodes.append(Node(SE, y, len(layers) - 1, window))
        nodes.append(Node(ADD, x, len(nodes), 1))
        x = len(nodes)
    x = conv(x, channels, channels, 3, 1)
    conv(x, channels, 1, 3, 0)
    return Architecture(tuple(layers), tuple(nodes), quant_scale=quant_scale)


def light(channels: int = 16, convs: int = 3, block: int = 2, quant_scale: int = 10) -> Architecture:
    """The light tier's network: unshuffle by ``block``, ``convs`` 3x3 convs of ``channels`` at that scale (ReLU
    between), shuffle back; global residual. With the defaults 864 MAC/px and 3,492 parameters: the convolutions run
    at a quarter of the pixels with 16 channels, which ONNX Runtime's CPU convolutions run 2-4x faster per MAC than
    8 channels at full resolution; against unshuffling by 4 with 32 channels (1,728 MAC/px) its reference gained twice
    as much at half the MACs and an eighth of the parameters (docs/journal/)."""
    wide = block * block
    layers = [Layer(wide, channels, 3)] + [Layer(channels, channels, 3)] * (convs - 2) + [Layer(channels, wide, 3)]
    nodes = [Node(UNSHUFFLE, 0, block, 0)]
    for i in range(convs):
        nodes.append(Node(CONV, len(nodes), i, 1 if i < convs - 1 else 0))
    nodes.append(Node(SHUFFLE, len(nodes), block, 0))
    return Architecture(tuple(layers), tuple(nodes), quant_scale=quant_scale)
