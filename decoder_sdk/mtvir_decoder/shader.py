"""The EL as an mpv / libplacebo user shader: another back end of the same folded weights as ``graph``.

A model becomes a chain of ``//!HOOK LUMA`` fragment passes, one per four channels of each node (its output saved
as an RGBA texture, `N<node>_<k>`), the squeeze-excitation's box mean as a horizontal then a vertical pass, and a
last pass that adds the global residual and writes the luma back; chroma is never touched. Every sample is read
with ``texelFetch`` at integer offsets (no filtering) and samples outside the plane count as zero, as the spec's
convolutions and box means pad: the shader computes the spec's function, its intermediate textures in the
renderer's float format. The luma comes in normalised by the video's own peak (``HOOKED_mul``), so 8 and 10-bit
video alike give u = Y / P.

One shader runs one group's model. A shader cannot tell which frame it is drawing: mpv 0.35 and Debian's
libplacebo 4.208 give shaders no timestamp, and their ``frame`` variable is no frame number (libplacebo 4.208
counts hook passes, measured through ffmpeg: 122, 244, ... for a 122-pass shader; mpv counts rendered frames from the
start of playback, not reset by a seek), so switching groups inside one shader would pick the wrong model. An EL of
several groups gives one shader per group (``group``), each for its own frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .descriptor import ADD, CONV, SE
from .errors import MtvirError
from .format import ElFile

MAX_BINDS = 16  # textures one libplacebo pass may bind (SHADER_MAX_BINDS)


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

    def summary(self) -> str:
        return (f"group {self.group} (frames {self.frames.start}-{self.frames.stop - 1}): {self.passes} passes, "
                f"{self.fetches_per_pixel:,} texel reads and {self.macs_per_pixel:,} MACs per pixel")


def _num(v: float) -> str:
    text = f"{float(np.float32(v)):.9g}"
    return text if any(c in text for c in ".en") else text + ".0"  # "inf"/"nan" never reach here (folded finite)


def _vec4(values) -> str:
    v = list(values) + [0.0] * (4 - len(values))
    return f"vec4({', '.join(_num(x) for x in v)})"


def _mat4(block: np.ndarray) -> str:
    """A 4x4 (outputs x inputs) block as a GLSL mat4 m, so that m * x applies it (GLSL matrices are column-major)."""
    full = np.zeros((4, 4), np.float32)
    full[:block.shape[0], :block.shape[1]] = block
    return f"mat4({', '.join(_num(x) for x in full.T.ravel())})"


def _groups_of(channels: int) -> list[range]:
    return [range(s, min(s + 4, channels)) for s in range(0, channels, 4)]


class _Builder:
    def __init__(self, el: ElFile, group: int):
        self.el, self.arch, self.group = el, el.arch, group
        self.folded = el.groups[group].params.folded(el.arch)
        self.channels = el.arch.channels()  # per node, node 0 included
        self.blocks: list[str] = []
        self.fetches = 0

    # --- one pass ---------------------------------------------------------------------------------------------
    def add_pass(self, desc: str, save: str | None, comps: int, binds: list[str], body) -> None:
        """A pass binding ``binds`` (HOOKED always), saving ``save`` (None: the luma itself); ``body()`` gives the
        GLSL statements that leave the result in ``r``."""
        binds = ["HOOKED"] + [b for b in binds if b != "HOOKED"]
        if len(binds) > MAX_BINDS:
            raise ShaderError(f"{desc} reads {len(binds)} textures; a libplacebo pass binds at most {MAX_BINDS}: "
                              "a node of more than 60 channels cannot be expressed")
        head = ["//!HOOK LUMA", *[f"//!BIND {b}" for b in binds], f"//!DESC MTVIR {desc}"]
        if save:
            head += [f"//!SAVE {save}", f"//!COMPONENTS {comps}"]
        code = [
            "vec4 hook() {",
            "    ivec2 ip = ivec2(HOOKED_pos * HOOKED_size);",
            "    ivec2 hi = ivec2(HOOKED_size) - 1;",
            "    vec4 r = vec4(0.0);",
            body(),
            "    return r;",
            "}",
        ]
        self.blocks.append("\n".join(head + code))

    # --- sampling ------------------------------------------------------------------------------------------------
    def fetch(self, node: int, k: int, dx: int, dy: int, zero_outside: bool = True) -> str:
        """RGBA of node ``node``'s texture ``k`` at offset (dx, dy); zero outside the plane (the spec's padding)."""
        self.fetches += 1
        at = "ip" if dx == dy == 0 else f"ip + ivec2({dx}, {dy})"
        if node == 0:  # the input: u - offset, one channel
            value = (f"vec4(texelFetch(HOOKED_raw, clamp({at}, ivec2(0), hi), 0).x * HOOKED_mul - "
                     f"{_num(self.arch.input_offset)}, 0.0, 0.0, 0.0)")
        else:
            value = f"texelFetch({self.tex(node, k)}_raw, clamp({at}, ivec2(0), hi), 0)"
        if not zero_outside or dx == dy == 0:
            return value
        return f"(inside({at}, hi) * {value})"

    @staticmethod
    def tex(node: int, k: int, part: str = "") -> str:
        return f"N{node}{part}_{k}"

    def binds(self, node: int) -> list[str]:
        return [] if node == 0 else [self.tex(node, k) for k in range(len(_groups_of(self.channels[node])))]

    # --- nodes ---------------------------------------------------------------------------------------------------
    def conv(self, i: int, node) -> None:
        layer = self.arch.layers[node.b]
        kk, src = layer.kernel, node.a
        for og, outs in enumerate(_groups_of(layer.cout)):
            def body(og=og, outs=outs):
                w, b = self.folded[node.b]
                lines = [f"        r = {_vec4(b[list(outs)])};"]
                for ig, ins in enumerate(_groups_of(layer.cin)):
                    for y in range(kk):
                        for x in range(kk):
                            block = w[list(outs)][:, list(ins), y, x]
                            if np.any(block):
                                lines.append(f"        r += {_mat4(block)} * "
                                             f"{self.fetch(src, ig, x - kk // 2, y - kk // 2)};")
                if node.c:
                    lines.append("        r = max(r, vec4(0.0));")
                return "\n".join(lines)
            self.add_pass(f"node {i} conv {og}", self.tex(i, og), len(outs), self.binds(src), body)

    def add(self, i: int, node) -> None:
        for og, outs in enumerate(_groups_of(self.channels[i])):
            def body(og=og):
                line = f"        r = {self.fetch(node.a, og, 0, 0)} + {self.fetch(node.b, og, 0, 0)};"
                return line + ("\n        r = max(r, vec4(0.0));" if node.c else "")
            self.add_pass(f"node {i} add {og}", self.tex(i, og), len(outs), self.binds(node.a) + self.binds(node.b),
                          body)

    def se(self, i: int, node) -> None:
        src, window = node.a, node.c
        half, groups = window // 2, _groups_of(self.channels[node.a])
        for k, chans in enumerate(groups):  # box sums: rows, then columns (samples outside count as zero)
            def rows(k=k):
                return "\n".join(f"        r += {self.fetch(src, k, d, 0)};" for d in range(-half, half + 1))
            self.add_pass(f"node {i} box rows {k}", self.tex(i, k, "h"), len(chans), [self.tex(src, k)], rows)
        for k, chans in enumerate(groups):
            def cols(k=k):
                lines = [f"        r += {self.fetch_part(i, 'h', k, d)};" for d in range(-half, half + 1)]
                return "\n".join(lines + [f"        r *= {_num(1.0 / (window * window))};"])
            self.add_pass(f"node {i} box mean {k}", self.tex(i, k, "m"), len(chans), [self.tex(i, k, "h")], cols)
        for og, outs in enumerate(groups):
            def gate(og=og, outs=outs):
                w, b = self.folded[node.b]
                lines = [f"        vec4 z = {_vec4(b[list(outs)])};"]
                for ig, ins in enumerate(groups):
                    lines.append(f"        z += {_mat4(w[list(outs)][:, list(ins), 0, 0])} * "
                                 f"{self.fetch_part(i, 'm', ig, 0)};")
                lines.append(f"        r = {self.fetch(src, og, 0, 0)} / (vec4(1.0) + exp(-z));")
                return "\n".join(lines)
            self.add_pass(f"node {i} squeeze-excitation {og}", self.tex(i, og), len(outs),
                          [self.tex(i, k, "m") for k in range(len(groups))] + [self.tex(src, og)], gate)

    def fetch_part(self, node: int, part: str, k: int, d: int) -> str:
        """A box pass's own texture at a vertical offset ``d`` (zero outside the plane)."""
        self.fetches += 1
        at = "ip" if d == 0 else f"ip + ivec2(0, {d})"
        value = f"texelFetch({self.tex(node, k, part)}_raw, clamp({at}, ivec2(0), hi), 0)"
        return value if d == 0 else f"(inside({at}, hi) * {value})"

    def output(self) -> None:
        last = len(self.arch.nodes)

        def body():
            u = "texelFetch(HOOKED_raw, ip, 0).x * HOOKED_mul"
            v = f"{u} + {self.fetch(last, 0, 0, 0)}.x" if self.arch.global_residual else f"{self.fetch(last, 0, 0, 0)}.x"
            return f"        r = vec4(clamp({v}, 0.0, 1.0), 0.0, 0.0, 1.0);"
        self.add_pass("output", None, 1, [self.tex(last, 0)], body)

    def build(self) -> Shader:
        if self.channels[-1] != 1:
            raise ShaderError("the network's output is not one channel")
        for i, node in enumerate(self.arch.nodes, start=1):
            {CONV: self.conv, ADD: self.add, SE: self.se}[node.op](i, node)
        self.output()
        info, frames = self.el, self.el.groups[self.group].frames
        shader = Shader("", len(self.blocks), self.fetches, self.arch.macs_per_pixel, self.group, frames)
        header = [
            "// MTVIR enhancement layer as an mpv / libplacebo user shader, written by mtvir-shader.",
            f"// For {info.width or 'any'}x{info.height or 'any'} luma, {info.bit_depth or 'any'}-bit video; "
            f"the model of {shader.summary()}.",
            "// Every pass: inside() is 1 within the plane, 0 outside (the spec's zero padding).",
        ]
        helper = "float inside(ivec2 p, ivec2 hi) { return float(all(greaterThanEqual(p, ivec2(0))) && " \
                 "all(lessThanEqual(p, hi))); }"
        blocks = [b.replace("vec4 hook() {", helper + "\n\nvec4 hook() {", 1) for b in self.blocks]
        shader.text = "\n".join(header) + "\n\n" + "\n\n".join(blocks) + "\n"
        return shader


def build(el: ElFile, group: int | None = None) -> Shader:
    """The user shader of one group's model; ``group`` may be left out when the EL has one group."""
    if not el.groups:
        raise ShaderError("the EL holds no model: nothing to run as a shader")
    if group is None:
        if len(el.groups) > 1:
            raise ShaderError(f"the EL has {len(el.groups)} groups: choose one (--group 0..{len(el.groups) - 1}); "
                              "a shader cannot tell which frame it draws, so each group has its own")
        group = 0
    if not 0 <= group < len(el.groups):
        raise ShaderError(f"group {group} does not exist: the EL has {len(el.groups)} (0..{len(el.groups) - 1})")
    return _Builder(el, group).build()


def ffmpeg_args(video: str, shader_path: str, output: str, bit_depth: int = 8, frames: int | None = None,
                ffmpeg: str = "ffmpeg") -> list[str]:
    """Stock ffmpeg rendering ``video`` through the shader with its ``libplacebo`` filter (Vulkan; lavapipe where
    no GPU is), as mpv would: no dithering, and nearest-neighbour chroma so that chroma passes through untouched."""
    fmt = "yuv420p" if bit_depth == 8 else "yuv420p10le"
    placebo = (f"libplacebo=custom_shader_path={shader_path}:format={fmt}:dithering=none:upscaler=nearest:"
               f"downscaler=nearest")
    return [ffmpeg, "-v", "error", "-y", "-init_hw_device", "vulkan=vk", "-filter_hw_device", "vk", "-i", str(video),
            *(["-frames:v", str(frames)] if frames else []), "-vf", f"hwupload,{placebo},hwdownload,format={fmt}",
            "-f", "yuv4mpegpipe", "-strict", "-1", str(output)]
