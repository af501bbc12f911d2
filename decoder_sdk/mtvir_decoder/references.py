"""Reference models: the shipped starting points an EL is a residue against, found by id.

A reference is stored as a self-contained EL file (absolute integers, float32 parameters, no reference of its
own) in this package's ``references/`` folder or in a folder of ``MTVIR_REFERENCE_PATH`` (os.pathsep-separated).
Its id is SHA-256 over the descriptor and the rebuilt parameters, first 16 bytes: recoding the same model in
other bytes keeps its id.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .descriptor import Architecture
from .errors import ReferenceMismatchError, UnknownReferenceError
from .model import Params

PACKAGE_DIR = Path(__file__).with_name("references")


@dataclass
class Reference:
    arch: Architecture
    params: Params
    name: str = ""

    @property
    def id(self) -> bytes:
        return hashlib.sha256(self.arch.canonical_bytes() + self.params.hash_bytes()).digest()[:16]

    def to_bytes(self) -> bytes:
        from . import format
        from .model import Coding
        return format.write(self.arch, [(0, 1, self.params, Coding(weights="absolute"))], None)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "") -> "Reference":
        from . import format
        el = format.read(data)
        if el.reference_id != bytes(16) or len(el.groups) != 1:
            raise UnknownReferenceError(f"{name or 'data'} is not a self-contained reference model")
        return cls(el.arch, el.groups[0].params, name)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Reference":
        path = Path(path)
        return cls.from_bytes(path.read_bytes(), path.stem)


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("MTVIR_REFERENCE_PATH", "").split(os.pathsep) if p]
    return extra + [PACKAGE_DIR]


_cache: dict[Path, tuple[float, bytes]] = {}


def installed() -> dict[bytes, Path]:
    """Id -> file of every reference on the search path (files are hashed once per modification time)."""
    found: dict[bytes, Path] = {}
    for folder in search_path():
        for path in sorted(folder.glob("*.mtvir")) if folder.is_dir() else []:
            mtime = path.stat().st_mtime
            if path not in _cache or _cache[path][0] != mtime:
                try:
                    _cache[path] = (mtime, Reference.load(path).id)
                except Exception:
                    continue  # a damaged file on the path is skipped, not fatal
            found.setdefault(_cache[path][1], path)
    return found


def find(ref_id: bytes, given: Reference | None = None) -> Reference:
    """The reference with this id: ``given`` if passed (it must match), else the installed one."""
    if given is not None:
        if given.id != ref_id:
            raise ReferenceMismatchError(f"the EL needs reference {ref_id.hex()}, the one given is {given.id.hex()}")
        return given
    path = installed().get(ref_id)
    if path is None:
        raise UnknownReferenceError(f"reference model {ref_id.hex()} is not installed "
                                    f"(searched {', '.join(map(str, search_path()))})")
    return Reference.load(path)


def starting_points(tier: str = "full", classes: bool = True, plane: str = "luma") -> list[Reference]:
    """The shipped references an encoder starts from; the encoder's rate-utility choice picks one per EL. One per QP
    band (``x265-qpNN.mtvir``: trained on x265 at QP NN, never on carphone, bigbuckbunny or OpenCV's clips; the light
    tier's ``light-x265-qpNN.mtvir``), then, with ``classes``, the content-class references of each band
    (``x265-qpNN-CLASS.mtvir``, e.g. ``-camera``: the band's reference fine-tuned on that content; docs/data.md).
    Empty when none is installed (the full tier then falls back to ``default()``). ``plane="chroma"``: the
    references trained on chroma planes (``chroma-x265-qpNN.mtvir``, ``light-chroma-x265-qpNN.mtvir``: each
    band's luma reference fine-tuned on the U and V planes), or where none is installed the luma ones (which
    gain on chroma too, a little less)."""
    if plane not in ("luma", "chroma"):
        raise ValueError(f"plane {plane!r}: luma or chroma")
    if plane == "chroma":
        return starting_points(f"{tier}-chroma" if tier != "full" else "chroma", classes) or \
            starting_points(tier, classes)
    prefix = "" if tier == "full" else f"{tier}-"
    found = sorted(PACKAGE_DIR.glob(f"{prefix}x265-qp*.mtvir"))
    bands = [p for p in found if p.stem[len(prefix):].removeprefix("x265-qp").isdigit()]
    return [Reference.load(p) for p in bands + ([p for p in found if p not in bands] if classes else [])]


def default() -> Reference:
    """The first shipped reference (``default.mtvir``, one model for every QP): what ELs made before the
    references per QP band name, and the starting point when no band reference is installed."""
    path = PACKAGE_DIR / "default.mtvir"
    if not path.exists():
        raise UnknownReferenceError(f"no default reference model at {path}: run mtvir-pretrain")
    return Reference.load(path)
