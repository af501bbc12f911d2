"""Build libmtvir (the C ABI) with cffi's embedding support:

    python -m mtvir_decoder.capi.build -o build/capi      # writes libmtvir.so and mtvir.h there

The library embeds the CPython that runs this command and finds the SDK through this environment's site
folders, recorded at build time: rebuild it after moving the environment. It needs a C compiler and the Python
headers and shared library (``Py_ENABLE_SHARED``), which python.org, pyenv and distribution builds provide.
"""
from __future__ import annotations

import argparse
import shutil
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

from . import HEADER, declarations


def site_folders() -> list[str]:
    """Where this interpreter finds its packages (a venv's site-packages, editable installs' paths)."""
    folders = [*site.getsitepackages(), site.getusersitepackages()]
    folders += [p for p in sys.path if p and Path(p).is_dir() and "site-packages" not in p and p not in folders]
    return [f for f in folders if Path(f).is_dir()]


def build(out_dir: str | Path, verbose: bool = False) -> Path:
    import cffi

    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise SystemExit("this Python has no shared libpython: the C ABI cannot embed it")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    ffi = cffi.FFI()
    ffi.embedding_api(declarations())
    ffi.embedding_init_code(f"""
import site
for folder in {site_folders()!r}:
    site.addsitedir(folder)  # also runs the .pth files of editable installs
from _mtvir_capi import ffi
from mtvir_decoder.capi import install
install(ffi)
""")
    libdir = sysconfig.get_config_var("LIBDIR")
    ffi.set_source("_mtvir_capi", '#include "mtvir.h"', include_dirs=[str(HEADER.parent)],
                   extra_link_args=[f"-Wl,-rpath,{libdir}"])
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(ffi.compile(tmpdir=tmp, target="libmtvir.*", verbose=verbose))
        target = out_dir / built.name
        shutil.copy2(built, target.with_suffix(".tmp"))
        target.with_suffix(".tmp").replace(target)
    shutil.copy2(HEADER, out_dir / HEADER.name)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mtvir_decoder.capi.build", description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, default=Path("build/capi"), help="folder for libmtvir and mtvir.h")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    lib = build(a.output, a.verbose)
    print(f"built {lib} and {a.output / HEADER.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
