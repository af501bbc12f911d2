"""The C ABI's implementation: the functions of ``mtvir.h`` in Python, bound to cffi's embedded ``ffi``.

``build.py`` compiles the library: the exported C functions check that the embedded Python started, then call
these (``mtvir_py_*``); its start-up code calls ``install(ffi)``. Every entry point catches every exception and
returns an error code: nothing raised here can reach the C caller.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..enhance import Enhancer
from ..errors import FormatError, InputMismatchError, ReferenceModelError, RuntimeProviderError, UnreadableFileError

HEADER = Path(__file__).with_name("mtvir.h")
ABI_VERSION = 3
# the MTVIR_OK / MTVIR_ERR_* codes of mtvir.h
OK, ERR_ARGUMENT, ERR_IO, ERR_FORMAT, ERR_REFERENCE, ERR_MISMATCH, ERR_RUNTIME, ERR_INTERNAL, ERR_ENVIRONMENT = \
    range(0, -9, -1)
# what the C wrappers call once Python runs (the C side answers mtvir_abi_version and mtvir_version itself)
PYTHON_FUNCTIONS = ("open_file", "open_memory", "open_file_tier", "open_memory_tier", "tier", "macs_per_pixel",
                    "get_info", "provider", "enhance", "planes", "enhance_frame", "last_error", "close")


def declarations() -> str:
    """The part of mtvir.h that cffi reads (between the cffi-begin and cffi-end markers)."""
    text = HEADER.read_text()
    start = text.index("\n", text.index("cffi-begin")) + 1
    return text[start:text.rindex("/* cffi-end")]


def error_code(exc: BaseException) -> int:
    """The code of an exception, by its type alone."""
    for kind, code in ((FormatError, ERR_FORMAT), (ReferenceModelError, ERR_REFERENCE),
                       (InputMismatchError, ERR_MISMATCH), (RuntimeProviderError, ERR_RUNTIME),
                       (UnreadableFileError, ERR_IO), (OSError, ERR_IO), (ValueError, ERR_ARGUMENT)):
        if isinstance(exc, kind):
            return code
    return ERR_INTERNAL


def install(ffi) -> None:
    """Define the extern "Python" functions of mtvir.h on ``ffi`` (the compiled library's)."""
    handles: dict[int, tuple] = {}  # handle address -> (enhancer, the handle's memory, its provider string)
    lock = threading.Lock()
    local = threading.local()
    empty = ffi.new("char[]", b"")

    def fail(exc: BaseException, code: int | None = None) -> int:
        local.error = ffi.new("char[]", f"{type(exc).__name__}: {exc}".encode("utf-8", "replace"))
        return error_code(exc) if code is None else code

    def entry(el) -> tuple:
        with lock:
            found = handles.get(int(ffi.cast("uintptr_t", el)))
        if found is None:
            raise ValueError("not a handle from mtvir_open_file/mtvir_open_memory (or already closed)")
        return found

    def enhancer(el) -> Enhancer:
        return entry(el)[0]

    def register(data, out, tier=ffi.NULL, fps=0.0) -> int:
        if out == ffi.NULL:
            raise ValueError("out is NULL")
        name = "auto" if tier == ffi.NULL else ffi.string(tier).decode("ascii", "replace")
        enh = Enhancer(data, tier=name, fps=fps if fps > 0 else None)
        token = ffi.new("char[1]")  # a unique address that stands for the handle
        with lock:
            handles[int(ffi.cast("uintptr_t", token))] = (enh, token, ffi.new("char[]", enh.provider.encode()),
                                                          ffi.new("char[]", enh.tier.encode()),
                                                          ffi.new("char[]", enh.planes.encode()))
        out[0] = ffi.cast("mtvir_el *", token)
        return OK

    @ffi.def_extern(name="mtvir_py_open_file_tier")
    def open_file_tier(path, tier, fps, out):
        try:
            if path == ffi.NULL:
                raise ValueError("path is NULL")
            return register(Path(ffi.string(path).decode("utf-8", "surrogateescape")), out, tier, fps)
        except BaseException as exc:  # noqa: BLE001 - nothing may cross into C
            return fail(exc)

    @ffi.def_extern(name="mtvir_py_open_memory_tier")
    def open_memory_tier(data, size, tier, fps, out):
        try:
            if data == ffi.NULL:
                raise ValueError("data is NULL")
            return register(bytes(ffi.buffer(data, size)), out, tier, fps)
        except BaseException as exc:  # noqa: BLE001
            return fail(exc)

    @ffi.def_extern(name="mtvir_py_open_file")
    def open_file(path, out):
        return open_file_tier(path, ffi.NULL, 0.0, out)  # ABI 1: the automatic tier at 30 fps

    @ffi.def_extern(name="mtvir_py_open_memory")
    def open_memory(data, size, out):
        return open_memory_tier(data, size, ffi.NULL, 0.0, out)

    def handle_text(el, k: int):
        """The k-th string kept with a handle (2: the provider, 3: the tier, 4: the planes), NULL on failure."""
        try:
            return entry(el)[k]
        except BaseException as exc:  # noqa: BLE001
            fail(exc)
            return ffi.NULL

    @ffi.def_extern(name="mtvir_py_tier")
    def tier(el):
        return handle_text(el, 3)

    @ffi.def_extern(name="mtvir_py_macs_per_pixel")
    def macs_per_pixel(el):
        try:
            return enhancer(el).macs_per_pixel
        except BaseException as exc:  # noqa: BLE001
            return fail(exc)

    @ffi.def_extern(name="mtvir_py_get_info")
    def get_info(el, info):
        try:
            e = enhancer(el).el
            if info == ffi.NULL:
                raise ValueError("info is NULL")
            info.width, info.height, info.bit_depth = e.width, e.height, e.bit_depth
            info.frame_count, info.groups = e.frame_count, len(e.groups)
            return OK
        except BaseException as exc:  # noqa: BLE001
            return fail(exc)

    @ffi.def_extern(name="mtvir_py_provider")
    def provider(el):
        return handle_text(el, 2)

    @ffi.def_extern(name="mtvir_py_planes")
    def planes(el):
        return handle_text(el, 4)

    def plane_view(plane, stride, width, height, bit_depth, what) -> np.ndarray:
        """A writable numpy view of a caller's plane, after checking its arguments."""
        if plane == ffi.NULL:
            raise ValueError(f"{what} is NULL")
        if not (0 < width <= 1 << 16 and 0 < height <= 1 << 16):
            raise ValueError(f"{what} size {width}x{height} out of range")
        if not 8 <= bit_depth <= 16:
            raise ValueError(f"bit depth {bit_depth} not in 8..16")
        sample = 1 if bit_depth == 8 else 2
        if stride < width * sample:
            raise ValueError(f"{what} stride {stride} bytes is shorter than a row of {width} samples")
        if stride % sample:
            raise ValueError(f"the {what} stride must be a whole number of samples")
        dtype = np.uint8 if sample == 1 else np.uint16
        raw = np.frombuffer(ffi.buffer(plane, stride * (height - 1) + width * sample), dtype)
        return np.lib.stride_tricks.as_strided(raw, (height, width), (stride, sample), writeable=True)

    @ffi.def_extern(name="mtvir_py_enhance")
    def enhance(el, plane, stride, width, height, bit_depth, frame_index):
        try:
            enh = enhancer(el)
            view = plane_view(plane, stride, width, height, bit_depth, "plane")
            out = enh.enhance(np.ascontiguousarray(view), None if frame_index < 0 else frame_index, bit_depth)
            view[...] = out  # written only once everything succeeded: the plane is untouched on any failure
            return OK
        except BaseException as exc:  # noqa: BLE001
            return fail(exc)

    @ffi.def_extern(name="mtvir_py_enhance_frame")
    def enhance_frame(el, y, y_stride, u, u_stride, v, v_stride, width, height, cw, ch, bit_depth, frame_index):
        try:
            enh = enhancer(el)
            index = None if frame_index < 0 else frame_index
            views = [plane_view(y, y_stride, width, height, bit_depth, "y")]
            if (u == ffi.NULL) != (v == ffi.NULL):
                raise ValueError("u and v: both planes, or neither")
            if u != ffi.NULL:
                views += [plane_view(p, s, cw, ch, bit_depth, n) for p, s, n in ((u, u_stride, "u"), (v, v_stride, "v"))]
            planes_in = [np.ascontiguousarray(w) for w in views]
            out = [enh.enhance(planes_in[0], index, bit_depth)]
            if len(views) == 3:
                out += enh.enhance_chroma(planes_in[0], planes_in[1], planes_in[2], index, bit_depth)
            for view, new, old in zip(views, out, planes_in):  # written only once every plane succeeded
                if new is not old:
                    view[...] = new
            return OK
        except BaseException as exc:  # noqa: BLE001
            return fail(exc)

    @ffi.def_extern(name="mtvir_py_last_error")
    def last_error():
        return getattr(local, "error", None) or empty

    @ffi.def_extern(name="mtvir_py_close")
    def close(el):
        try:
            with lock:
                handles.pop(int(ffi.cast("uintptr_t", el)), None)
        except BaseException:  # noqa: BLE001
            pass
