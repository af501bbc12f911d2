"""The few ONNX messages the SDK's graphs need, written as protobuf bytes: a player needs no onnx package (31 MB
and protobuf beside it) to run an EL, only ONNX Runtime.

Protobuf's wire format: each field a key (field number << 3 | wire type: 0 varint, 2 length-delimited, 5 32-bit)
then its value; messages nest as length-delimited bytes. Field numbers are those of onnx.proto (IR version 8);
``tests/test_enhancer.py`` holds the bytes equal to the onnx package's own for the same graph.
"""
from __future__ import annotations

import struct

import numpy as np

from .layout import write_uvar

# TensorProto.DataType
FLOAT, UINT8, UINT16, INT64, FLOAT16 = 1, 2, 4, 7, 10
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64,
           np.dtype(np.float16): FLOAT16}
# AttributeProto.AttributeType
_FLOAT_ATTR, _INT_ATTR, _STRING_ATTR, _INTS_ATTR = 1, 2, 3, 7


def _varint(value: int) -> bytes:
    """Protobuf's varint is the EL's uvar (LEB128); a negative int64 as its two's complement, 10 bytes."""
    return write_uvar(value & (1 << 64) - 1)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def node(op_type: str, inputs: list[str], outputs: list[str], **attributes) -> bytes:
    """A NodeProto; attributes (sorted by name, as onnx.helper writes them): int, float, str or a list of ints."""
    out = b"".join(_bytes(1, name) for name in inputs) + b"".join(_bytes(2, name) for name in outputs)
    out += _bytes(4, op_type)
    for name, value in sorted(attributes.items()):
        if isinstance(value, (list, tuple)):
            attr = _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _INTS_ATTR)
        elif isinstance(value, float):
            attr = _bytes(1, name) + _varint(2 << 3 | 5) + struct.pack("<f", value) + _int(20, _FLOAT_ATTR)
        elif isinstance(value, str):
            attr = _bytes(1, name) + _bytes(4, value) + _int(20, _STRING_ATTR)
        else:
            attr = _bytes(1, name) + _int(3, int(value)) + _int(20, _INT_ATTR)
        out += _bytes(5, attr)
    return out


def tensor(name: str, array: np.ndarray) -> bytes:
    """A TensorProto with its values as little-endian raw data."""
    array = np.asarray(array)
    kind = _DTYPES[array.dtype]
    return (b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _bytes(8, name)
            + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()))


def value_info(name: str, elem_type: int, shape: list[int | str]) -> bytes:
    """A ValueInfoProto of a tensor; a str in ``shape`` is a symbolic dimension."""
    dims = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(nodes: list[bytes], name: str, inputs: list[bytes], outputs: list[bytes], initializers: list[bytes],
          opset: int, ir_version: int, producer: str = "") -> bytes:
    """A serialized ModelProto of one graph (default domain, ``opset``)."""
    graph = (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, name) + b"".join(_bytes(5, t) for t in initializers)
             + b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs))
    return (_int(1, ir_version) + (_bytes(2, producer) if producer else b"") + _bytes(7, graph)
            + _bytes(8, _bytes(1, "") + _int(2, opset)))
