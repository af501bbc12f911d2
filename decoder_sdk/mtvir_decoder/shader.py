"""The EL as an mpv / libplacebo user shader: another back end of the same folded weights as ``graph``.

A model becomes a chain of ``//!HOOK LUMA`` fragment passes, one per texture of each node (`N<node>_<k>`: four
channels as half floats, or with ``precision="fp32"`` two, each as a half float and the half float of its
remainder), the squeeze-excitation's box mean as a horizontal then a vertical pass, and a last pass that adds the
global residual, rounds to the video's levels and writes the luma back. An EL 4's chroma models run the same way
in ``//!HOOK CHROMA`` passes (`U_N...`, `V_N...`), each on its plane's component of the chroma texture (U in x, V
in y: libplacebo and mpv hand the two 4:2:0 planes to one hook together), and a last pass writes both back; without
chroma models chroma is never touched. Every sample is read
with ``texelFetch`` at integer offsets (no filtering) and samples outside the plane count as zero, as the spec's
convolutions and box means pad: the shader computes the spec's function, its intermediate textures in the
renderer's float format. The luma comes in normalised by the video's own peak (``HOOKED_mul``), so 8 and 10-bit
video alike give u = Y / P. A network that unshuffles (the light tier's) runs its nodes at their scale: their
passes draw textures 1 / scale of the plane each way (``//!WIDTH``, ``//!HEIGHT``), which needs an EL made for a
frame size the block divides.

One shader runs one group's model. A shader cannot tell which frame it is drawing: mpv 0.35 and Debian's
libplacebo 4.208 give shaders no timestamp, and their ``frame`` variable is no frame number (libplacebo 4.208
counts hook passes, measured through ffmpeg: 122, 244, ... for a 122-pass shader; mpv counts rendered frames from the
start of playback, not reset by a seek), so switching groups inside one shader would pick the wrong model. An EL of
several groups gives one shader per group (``group``), each for its own frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .descriptor import ADD, CONV, SE, SHUFFLE, UNSHUFFLE
from .errors import MtvirError
from .format import ElFile

MAX_BINDS = 16  # textures one libplacebo pass may bind (SHADER_MAX_BINDS)
PRECISIONS = ("fp16", "fp32")


class ShaderError(MtvirError):
    """The model cannot be expressed as a user shader (or the request does not fit the EL)."""


@dataclass
class Shader:
    text: str
    passes: int
    fetches_per_pixel: int  # texture reads (RGBA texels) per output pixel, all passes
    macs_per_pixel: int  # multiply-accumulates per pixel of one model, as the shader computes them
    group: int  # the EL's group whose model it runs
    frames: range  # that group's frames
    precision: str  # fp32: values kept as two half floats; fp16: as one
    planes: str = "y"  # the planes it enhances

    def summary(self) -> str:
        return (f"group {self.group} (frames {self.frames.start}-{self.frames.stop - 1}), planes "
                f"{self.planes.upper()}: {self.passes} passes, "
                f"{self.fetches_per_pixel:,} texel reads and {self.macs_per_pixel:,} MACs per pixel, "
                f"{self.precision} values")


def _num(v: float) -> str:
    text = f"{float(np.float32(v)):.9g}"
    return text if any(c in text for c in ".en") else text + ".0"  # "inf"/"nan" never reach here (folded finite)


def _vec(values, n: int) -> str:
    v = list(values) + [0.0] * (n - len(values))
    return f"vec{n}({', '.join(_num(x) for x in v)})"


def _mat(block: np.ndarray, n: int) -> str:
    """An (outputs x inputs) block as a GLSL matN m, so that m * x applies it (GLSL matrices are column-major)."""
    full = np.zeros((n, n), np.float32)
    full[:block.shape[0], :block.shape[1]] = block
    return f"mat{n}({', '.join(_num(x) for x in full.T.ravel())})"


class _Builder:
    """Writes the passes. Each node's channels are stored ``n`` to a texture: 4 (``fp16``: one value per component,
    as the renderer's half-float textures keep it) or 2 (``fp32``: each value as a half float and the half float of
    what it left over, read back as their sum: about 22 significant bits through half-float textures).
    ``plane``: "y" hooks LUMA and writes it back; "u" or "v" hooks CHROMA, reads that plane's component of the
    chroma texture (x, y) and saves the result as ``<P>_OUT`` for the pass that writes chroma back (``_chroma_out``);
    its textures are named ``<P>_N...`` so that the chains of the planes never meet."""

    def __init__(self, el: ElFile, group: int, precision: str, plane: str = "y"):
        self.el, self.arch, self.group = el, el.arch, group
        self.plane, self.hook = plane, "LUMA" if plane == "y" else "CHROMA"
        self.component = "xyz"["yuv".index(plane) - 1] if plane != "y" else "x"
        self.prefix = "" if plane == "y" else f"{plane.upper()}_"
        self.folded = el.groups[group].params.folded(el.arch)
        self.channels = el.arch.channels()  # per node, node 0 included
        self.scales = el.arch.scales()  # a node at scale s is a texture of (w / s) x (h / s)
        self.split = precision == "fp32"
        self.n = 2 if self.split else 4
        self.blocks: list[str] = []
        self.fetches = 0

    def groups_of(self, channels: int) -> list[range]:
        return [range(s, min(s + self.n, channels)) for s in range(0, channels, self.n)]

    def vec(self, values) -> str:
        return _vec(values, self.n)

    def mat(self, block: np.ndarray) -> str:
        return _mat(block, self.n)

    # --- one pass ---------------------------------------------------------------------------------------------
    def add_pass(self, desc: str, save: str | None, channels: int, binds: list[str], body, scale: int = 1) -> None:
        """A pass binding ``binds`` (HOOKED always), saving ``channels`` values as ``save`` (None: the luma itself)
        at ``scale`` (its texture 1 / scale of the plane each way; ``ip`` its own texel, ``hi`` its last);
        ``body()`` gives the GLSL statements that leave the result in ``r`` (a vecN)."""
        binds = ["HOOKED"] + [b for b in binds if b != "HOOKED"]
        if len(binds) > MAX_BINDS:
            raise ShaderError(f"{desc} reads {len(binds)} textures; a libplacebo pass binds at most {MAX_BINDS}: a "
                              f"node of more than {(MAX_BINDS - 1) * self.n} channels cannot be expressed"
                              + (" (with --precision fp16, 60)" if self.split else ""))
        head = [f"//!HOOK {self.hook}", *[f"//!BIND {b}" for b in binds],
                f"//!DESC MTVIR {self.prefix}{desc}"]
        if scale > 1:
            head += [f"//!WIDTH HOOKED.w {scale} /", f"//!HEIGHT HOOKED.h {scale} /"]
        if save:
            head += [f"//!SAVE {save}", f"//!COMPONENTS {4 if self.split else channels}"]
            if self.split:  # a half float (exact in the texture) and the half float of what it left over
                store = ["    vec2 whole = unpackHalf2x16(packHalf2x16(r));",
                         "    vec2 rest = r - whole;",
                         "    return vec4(whole.x, rest.x, whole.y, rest.y);"]
            else:
                store = ["    return r;"]
        else:
            store = ["    return r;"]
        code = [
            "vec4 hook() {",
            "    ivec2 ip = ivec2(HOOKED_pos * HOOKED_size)" + (f" / {scale};" if scale > 1 else ";"),
            "    ivec2 hi = ivec2(HOOKED_size)" + (f" / {scale}" if scale > 1 else "") + " - 1;",
            f"    vec{self.n if save else 4} r = vec{self.n if save else 4}(0.0);",
            body(),
            *store,
            "}",
        ]
        self.blocks.append("\n".join(head + code))

    # --- sampling ------------------------------------------------------------------------------------------------
    def texel(self, name: str, at: str, hi: str = "hi") -> str:
        """The ``n`` values stored at ``at`` in texture ``name`` (``hi``: its last texel)."""
        self.fetches += 1
        raw = f"texelFetch({name}_raw, clamp({at}, ivec2(0), {hi}), 0)"
        return f"unsplit({raw})" if self.split else raw

    def fetch(self, node: int, k: int, dx: int, dy: int) -> str:
        """Node ``node``'s values of texture ``k`` at offset (dx, dy); zero outside the plane (the spec's padding)."""
        at = "ip" if dx == dy == 0 else f"ip + ivec2({dx}, {dy})"
        if node == 0:  # the input: u - offset, one channel
            self.fetches += 1
            zeros = ", 0.0" * (self.n - 1)
            value = (f"vec{self.n}(texelFetch(HOOKED_raw, clamp({at}, ivec2(0), hi), 0).{self.component} * HOOKED_mul - "
                     f"{_num(self.arch.input_offset)}{zeros})")
        else:
            value = self.texel(self.tex(node, k), at)
        return value if dx == dy == 0 else f"(inside({at}, hi) * {value})"

    def fetch_part(self, node: int, part: str, k: int, d: int) -> str:
        """A box pass's own texture at a vertical offset ``d`` (zero outside the plane)."""
        at = "ip" if d == 0 else f"ip + ivec2(0, {d})"
        value = self.texel(self.tex(node, k, part), at)
        return value if d == 0 else f"(inside({at}, hi) * {value})"

    def tex(self, node: int, k: int, part: str = "") -> str:
        return f"{self.prefix}N{node}{part}_{k}"

    def binds(self, node: int) -> list[str]:
        return [] if node == 0 else [self.tex(node, k) for k in range(len(self.groups_of(self.channels[node])))]

    # --- nodes ---------------------------------------------------------------------------------------------------
    def conv(self, i: int, node) -> None:
        layer = self.arch.layers[node.b]
        kk, src = layer.kernel, node.a
        for og, outs in enumerate(self.groups_of(layer.cout)):
            def body(outs=outs):
                w, b = self.folded[node.b]
                lines = [f"        r = {self.vec(b[list(outs)])};"]
                for ig, ins in enumerate(self.groups_of(layer.cin)):
                    for y in range(kk):
                        for x in range(kk):
                            block = w[list(outs)][:, list(ins), y, x]
                            if np.any(block):
                                lines.append(f"        r += {self.mat(block)} * "
                                             f"{self.fetch(src, ig, x - kk // 2, y - kk // 2)};")
                if node.c:
                    lines.append(f"        r = max(r, vec{self.n}(0.0));")
                return "\n".join(lines)
            self.add_pass(f"node {i} conv {og}", self.tex(i, og), len(outs), self.binds(src), body, self.scales[i])

    def add(self, i: int, node) -> None:
        for og, outs in enumerate(self.groups_of(self.channels[i])):
            def body(og=og):
                line = f"        r = {self.fetch(node.a, og, 0, 0)} + {self.fetch(node.b, og, 0, 0)};"
                return line + (f"\n        r = max(r, vec{self.n}(0.0));" if node.c else "")
            self.add_pass(f"node {i} add {og}", self.tex(i, og), len(outs),
                          [self.tex(node.a, og), self.tex(node.b, og)], body, self.scales[i])

    def se(self, i: int, node) -> None:
        src, window = node.a, node.c
        half, groups = window // 2, self.groups_of(self.channels[node.a])
        for k, chans in enumerate(groups):  # box sums: rows, then columns (samples outside count as zero)
            def rows(k=k):
                return "\n".join(f"        r += {self.fetch(src, k, d, 0)};" for d in range(-half, half + 1))
            self.add_pass(f"node {i} box rows {k}", self.tex(i, k, "h"), len(chans), [self.tex(src, k)], rows,
                          self.scales[i])
        for k, chans in enumerate(groups):
            def cols(k=k):
                lines = [f"        r += {self.fetch_part(i, 'h', k, d)};" for d in range(-half, half + 1)]
                return "\n".join(lines + [f"        r *= {_num(1.0 / (window * window))};"])
            self.add_pass(f"node {i} box mean {k}", self.tex(i, k, "m"), len(chans), [self.tex(i, k, "h")], cols,
                          self.scales[i])
        for og, outs in enumerate(groups):
            def gate(og=og, outs=outs):
                w, b = self.folded[node.b]
                lines = [f"        vec{self.n} z = {self.vec(b[list(outs)])};"]
                for ig, ins in enumerate(groups):
                    lines.append(f"        z += {self.mat(w[list(outs)][:, list(ins), 0, 0])} * "
                                 f"{self.fetch_part(i, 'm', ig, 0)};")
                lines.append(f"        r = {self.fetch(src, og, 0, 0)} / (vec{self.n}(1.0) + exp(-z));")
                return "\n".join(lines)
            self.add_pass(f"node {i} squeeze-excitation {og}", self.tex(i, og), len(outs),
                          [self.tex(i, k, "m") for k in range(len(groups))] + [self.tex(src, og)], gate,
                          self.scales[i])

    def source_value(self, node: int, channel: int, at: str, hi: str) -> str:
        """One channel of ``node`` at texel ``at`` of its own texture (last texel ``hi``)."""
        if node == 0:
            self.fetches += 1
            return (f"(texelFetch(HOOKED_raw, clamp({at}, ivec2(0), {hi}), 0).{self.component} * HOOKED_mul - "
                    f"{_num(self.arch.input_offset)})")
        return f"{self.texel(self.tex(node, channel // self.n), at, hi)}[{channel % self.n}]"

    def unshuffle(self, i: int, node) -> None:
        """Output channel c r^2 + y r + x: channel c of the source at (r ip.x + x, r ip.y + y)."""
        src, r = node.a, node.b
        src_hi = f"ivec2(HOOKED_size) / {self.scales[src]} - 1" if self.scales[src] > 1 else "ivec2(HOOKED_size) - 1"
        for og, outs in enumerate(self.groups_of(self.channels[i])):
            def body(outs=outs):
                lines = [f"        ivec2 hs = {src_hi};"]
                for comp, q in enumerate(outs):
                    c, y, x = q // (r * r), q % (r * r) // r, q % r
                    value = self.source_value(src, c, f"ip * {r} + ivec2({x}, {y})", "hs")
                    lines.append(f"        r[{comp}] = {value};")
                return "\n".join(lines)
            self.add_pass(f"node {i} unshuffle {og}", self.tex(i, og), len(outs), self.binds(src), body,
                          self.scales[i])

    def shuffle(self, i: int, node) -> None:
        """Output channel c at ip: the source's channel c r^2 + (ip.y % r) r + ip.x % r at ip / r."""
        src, r, cin = node.a, node.b, self.channels[node.a]
        for og, outs in enumerate(self.groups_of(self.channels[i])):
            def body(outs=outs):
                lines = [f"        ivec2 at = ip / {r};", f"        int sub = (ip.y % {r}) * {r} + ip.x % {r};",
                         f"        float v[{cin}];"]
                for k, chans in enumerate(self.groups_of(cin)):
                    lines.append(f"        vec{self.n} t{k} = {self.texel(self.tex(src, k), 'at', 'hi / ' + str(r))};")
                    lines += [f"        v[{ch}] = t{k}[{comp}];" for comp, ch in enumerate(chans)]
                lines += [f"        r[{comp}] = v[{c * r * r} + sub];" for comp, c in enumerate(outs)]
                return "\n".join(lines)
            self.add_pass(f"node {i} shuffle {og}", self.tex(i, og), len(outs), self.binds(src), body,
                          self.scales[i])

    def output(self) -> None:
        last = len(self.arch.nodes)

        def body():
            net = f"{self.fetch(last, 0, 0, 0)}.x"
            v = (f"texelFetch(HOOKED_raw, ip, 0).{self.component} * HOOKED_mul + {net}" if self.arch.global_residual
                 else net)
            lines = [f"        float v = clamp({v}, 0.0, 1.0);"]
            if self.el.bit_depth:  # the spec's last step, to the video's levels: the renderer's half-float luma
                peak = _num((1 << self.el.bit_depth) - 1)  # then holds each level within a quarter of a level
                lines.append(f"        v = roundEven(v * {peak}) / {peak};")
            out = "vec4(v, 0.0, 0.0, 1.0)" if self.plane == "y" else f"vec{self.n}(v{', 0.0' * (self.n - 1)})"
            return "\n".join(lines + [f"        r = {out};"])
        if self.plane == "y":
            self.add_pass("output", None, 1, [self.tex(last, 0)], body)
        else:  # saved for the pass that writes both chroma planes back (as levels: exact in a half float)
            self.add_pass("output", f"{self.prefix}OUT", 1, [self.tex(last, 0)], body)

    def build(self) -> list[str]:
        """The passes of this plane's model, each a block of shader text."""
        if self.channels[-1] != 1:
            raise ShaderError("the network's output is not one channel")
        for i, node in enumerate(self.arch.nodes, start=1):
            {CONV: self.conv, ADD: self.add, SE: self.se, UNSHUFFLE: self.unshuffle, SHUFFLE: self.shuffle}[node.op](
                i, node)
        self.output()
        return self.blocks


def _chroma_out(planes: str) -> str:
    """The pass that writes the chroma texture back: each enhanced plane's saved levels, the others as they came.
    libplacebo and mpv hand a CHROMA hook U and V together (x, y) when the planes are of one size."""
    binds = [f"//!BIND {p.upper()}_OUT" for p in planes]
    values = [f"texelFetch({p.upper()}_OUT_raw, ip, 0).x" if p in planes else f"c.{c}"
              for p, c in (("u", "x"), ("v", "y"))]
    return "\n".join(["//!HOOK CHROMA", "//!BIND HOOKED", *binds, "//!DESC MTVIR chroma output", "vec4 hook() {",
                      "    ivec2 ip = ivec2(HOOKED_pos * HOOKED_size);",
                      "    vec4 c = texelFetch(HOOKED_raw, ip, 0) * HOOKED_mul;",
                      f"    return vec4({', '.join(values)}, c.z, c.w);", "}"])


def _check(el: ElFile, what: str) -> None:
    block = el.arch.block
    if block > 1 and not (el.width and el.height and el.width % block == 0 and el.height % block == 0):
        raise ShaderError(f"the {what} model unshuffles by {block} (the light tier's network): its shader needs an EL "
                          f"made for a plane size that {block} divides, not {el.width or 'any'}x{el.height or 'any'}")


def build(el: ElFile, group: int | None = None, precision: str = "fp16",
          chroma: dict[str, ElFile | None] | None = None) -> Shader:
    """The user shader of one group's model; ``group`` may be left out when the EL has one group. ``precision``
    fp16 keeps every intermediate value as one half float (11 bits), fp32 to about 22 bits through the renderer's
    half-float textures (two half floats each: twice the passes, four times the texture reads). ``chroma``: the
    EL 4's chroma models ({"u": ElFile, "v": ElFile}, the same one for both when one model enhances U and V): the
    shader also hooks CHROMA and runs, on each plane, its model's group that holds the luma group's first frame."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if not el.groups:
        raise ShaderError("the EL holds no model for luma: nothing to run as a shader")
    _check(el, "luma")
    if group is None:
        if len(el.groups) > 1:
            raise ShaderError(f"the EL has {len(el.groups)} groups: choose one (--group 0..{len(el.groups) - 1}); "
                              "a shader cannot tell which frame it draws, so each group has its own")
        group = 0
    if not 0 <= group < len(el.groups):
        raise ShaderError(f"group {group} does not exist: the EL has {len(el.groups)} (0..{len(el.groups) - 1})")
    frames = el.groups[group].frames
    luma = _Builder(el, group, precision)
    blocks, fetches, planes = luma.build(), luma.fetches, ""
    for p, model in (chroma or {}).items():
        index = model.group_index(frames.start) if model is not None else None
        if index is None:
            continue
        _check(model, p.upper())
        b = _Builder(model, index, precision, p)
        blocks, fetches, planes = blocks + b.build(), fetches + b.fetches, planes + p
    if planes:
        blocks.append(_chroma_out(planes))
    shader = Shader("", len(blocks), fetches, el.arch.macs_per_pixel, group, frames, precision)
    header = [
        "// MTVIR enhancement layer as an mpv / libplacebo user shader, written by mtvir-shader.",
        f"// For {el.width or 'any'}x{el.height or 'any'} luma, {el.bit_depth or 'any'}-bit video; the model of "
        f"{shader.summary()}" + (f"; chroma: the {planes.upper()} models of frame {frames.start}" if planes else
                                 "; chroma untouched") + ".",
        "// Every pass: inside() is 1 within the plane, 0 outside (the spec's zero padding)"
        + ("; unsplit() reads a value stored as two half floats." if precision == "fp32" else "."),
    ]
    helpers = "float inside(ivec2 p, ivec2 hi) { return float(all(greaterThanEqual(p, ivec2(0))) && " \
              "all(lessThanEqual(p, hi))); }"
    if precision == "fp32":
        helpers += "\nvec2 unsplit(vec4 t) { return vec2(t.x + t.y, t.z + t.w); }"
    blocks = [b.replace("vec4 hook() {", helpers + "\n\nvec4 hook() {", 1) if "MTVIR chroma output" not in b else b
              for b in blocks]
    shader.text = "\n".join(header) + "\n\n" + "\n\n".join(blocks) + "\n"
    shader.planes = "y" + planes
    return shader


def ffmpeg_args(video: str, shader_path: str, output: str, bit_depth: int = 8, frames: int | None = None,
                ffmpeg: str = "ffmpeg") -> list[str]:
    """Stock ffmpeg rendering ``video`` through the shader with its ``libplacebo`` filter (Vulkan; lavapipe where
    no GPU is), as mpv would: no dithering, and nearest-neighbour chroma so that chroma comes out at its own samples
    (untouched, or as the shader's chroma passes wrote it). The decoder runs on one thread: with ffmpeg 5.1's
    frame-threaded HEVC decoder feeding ``hwupload`` on lavapipe, some frames came out with bands of another frame
    from the top rows (3, 7 or 11 of 16, in a quarter to a half of the runs), with no custom shader as with the EL's,
    and never with one decoding thread (docs/journal/2026-12-07-shader-frames-race.md)."""
    fmt = "yuv420p" if bit_depth == 8 else "yuv420p10le"
    placebo = (f"libplacebo=custom_shader_path={shader_path}:format={fmt}:dithering=none:upscaler=nearest:"
               f"downscaler=nearest")
    return [ffmpeg, "-v", "error", "-y", "-init_hw_device", "vulkan=vk", "-filter_hw_device", "vk", "-threads", "1",
            "-i", str(video),
            *(["-frames:v", str(frames)] if frames else []), "-vf", f"hwupload,{placebo},hwdownload,format={fmt}",
            "-f", "yuv4mpegpipe", "-strict", "-1", str(output)]
