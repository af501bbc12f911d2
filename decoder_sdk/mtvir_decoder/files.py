"""Outputs written atomically, the one way every command writes a file: under a temporary name in the same folder
(hidden, unique to the process and the call, same suffix, so that muxers and numpy still see the format), renamed
over the final name only once complete, and removed whatever stops the writer: no half-written file is left under
a name a user sees, and two runs writing the same file never share a temporary."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_calls = itertools.count()


def partial_name(path: str | os.PathLike) -> Path:
    """Where ``path`` is written before its rename."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{next(_calls)}.partial{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """The temporary path to write ``path`` through: renamed to ``path`` when the block ends normally, deleted when
    it raises (an error, Ctrl-C, SIGTERM turned into SystemExit)."""
    tmp = partial_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
