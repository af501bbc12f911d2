"""MTVIR decoder SDK: read an enhancement layer (EL) and enhance decoded luma with ONNX Runtime (no torch)."""
from .descriptor import Architecture, Layer, Node, sefcnn
from .enhance import Enhancer
from .errors import (FormatError, InputMismatchError, LimitError, MtvirError, ReferenceMismatchError,
                     ReferenceModelError, RuntimeProviderError, UnknownReferenceError, UnreadableFileError,
                     UnsupportedVersionError)
from .format import ElFile, Group, write
from .tiers import read
from .model import Coding, Params
from .references import Reference

__version__ = "0.2.0"

__all__ = [
    "Architecture", "Coding", "ElFile", "Enhancer", "FormatError", "Group", "InputMismatchError", "Layer",
    "LimitError", "MtvirError", "Node", "Params", "Reference", "ReferenceMismatchError", "ReferenceModelError",
    "RuntimeProviderError", "UnknownReferenceError", "UnreadableFileError", "UnsupportedVersionError", "read",
    "sefcnn", "write",
]
