"""Build libmtvir (the C ABI) with cffi's embedding support:

    python -m mtvir_decoder.capi.build -o build/capi      # writes libmtvir.so and mtvir.h there

The library starts the Python environment that runs this command (or ``--python``'s), recorded at build time: its
interpreter and package folders, never the caller's PATH, working folder or PYTHON* variables, so a player started
with an empty environment works. Rebuild it after moving that environment: until then every call returns
MTVIR_ERR_ENVIRONMENT and mtvir_last_error() says why. Building needs a C compiler and the Python headers and
shared library (``Py_ENABLE_SHARED``), which python.org, pyenv and distribution builds provide.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from . import HEADER, PYTHON_FUNCTIONS, declarations
from .. import __version__
from ..files import atomic_path

# run by the interpreter the library will start: its version and where it finds its packages
FACTS = """import site, sys
from pathlib import Path
folders = [*site.getsitepackages(), site.getusersitepackages()]
folders += [p for p in sys.path if p and Path(p).is_dir() and "site-packages" not in p and p not in folders]
facts = {"version": list(sys.version_info[:2]), "folders": [f for f in folders if Path(f).is_dir()]}
"""


def environment(python: str | None = None) -> dict:
    """The interpreter the library will start (absolute, symlinks kept: a venv is found through its own path) and
    where it finds its packages (a venv's site-packages, editable installs' paths)."""
    executable = os.path.abspath(python or sys.executable)
    if python is None:
        scope: dict = {}
        exec(FACTS, scope)
        facts = scope["facts"]
    else:
        try:
            out = subprocess.run([executable, "-I", "-c", FACTS + "import json; print(json.dumps(facts))"],
                                 capture_output=True, text=True, timeout=60, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise SystemExit(f"cannot run {executable}: {exc}") from None
        facts = json.loads(out)
    if tuple(facts["version"]) != sys.version_info[:2]:
        raise SystemExit(f"{executable} is Python {'.'.join(map(str, facts['version']))}; the library links this "
                         f"Python's ({sys.version_info[0]}.{sys.version_info[1]}) libpython")
    return {"executable": executable, "folders": facts["folders"]}


def _c_string(text: str) -> str:
    return '"' + "".join(f"\\{b:03o}" for b in text.encode()) + '"'


def c_source(env: dict) -> str:
    """The exported functions of mtvir.h: each makes sure the embedded Python started (once, from the recorded
    environment, in isolated mode), then calls its Python implementation; if it could not start, each returns
    MTVIR_ERR_ENVIRONMENT and mtvir_last_error() the reason."""
    probe = ("import site\n"
             f"for folder in {env['folders']!r}:\n"
             "    site.addsitedir(folder)\n"
             "import _cffi_backend, mtvir_decoder.capi\n")
    protos = "\n".join(f"static {decl};" for decl in python_declarations())
    return f"""
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "mtvir.h"

static const char MTVIR_PYTHON[] = {_c_string(env['executable'])};
static const char MTVIR_PROBE[] = {_c_string(probe)};
static char start_error[4096];
static int start_ok;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static int cffi_start_python(void);  /* cffi's, defined below */
{protos}

static void start_failed(const char *what, const char *why)
{{
    snprintf(start_error, sizeof start_error, "libmtvir could not start its Python environment (%s): %s%s%s",
             MTVIR_PYTHON, what, why && *why ? ": " : "", why ? why : "");
}}

static void python_failed(const char *what)  /* holding the GIL: the pending exception is the reason */
{{
    PyObject *type, *value, *tb, *text = NULL;
    PyErr_Fetch(&type, &value, &tb);
    if (value != NULL)
        text = PyObject_Str(value);
    const char *why = text != NULL ? PyUnicode_AsUTF8(text) : NULL;
    start_failed(what, why != NULL ? why : "unknown error");
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}}

static void start(void)
{{
    if (!Py_IsInitialized()) {{  /* a C host: start the recorded environment (a Python host has its own) */
        PyConfig config;
        PyConfig_InitIsolatedConfig(&config);
        config.install_signal_handlers = 0;
        PyStatus status = PyConfig_SetBytesString(&config, &config.executable, MTVIR_PYTHON);
        if (!PyStatus_Exception(status))
            status = PyConfig_SetBytesString(&config, &config.program_name, MTVIR_PYTHON);
        if (!PyStatus_Exception(status))
            status = Py_InitializeFromConfig(&config);
        PyConfig_Clear(&config);
        if (PyStatus_Exception(status)) {{
            start_failed("Python did not initialise", status.err_msg);
            return;
        }}
        PyObject *globals = PyDict_New();
        PyObject *done = globals != NULL ? PyRun_String(MTVIR_PROBE, Py_file_input, globals, globals) : NULL;
        if (done == NULL)
            python_failed("the SDK cannot be imported");
        Py_XDECREF(done);
        Py_XDECREF(globals);
        PyEval_SaveThread();  /* cffi takes the GIL when it calls in */
        if (done == NULL)
            return;
    }}
    if (cffi_start_python() != 0) {{
        start_failed("its start-up code failed", "the details went to stderr");
        return;
    }}
    start_ok = 1;
}}

static int started(void)
{{
    pthread_once(&start_once, start);
    return start_ok;
}}

int mtvir_abi_version(void) {{ return MTVIR_ABI_VERSION; }}
const char *mtvir_version(void) {{ return {_c_string(__version__)}; }}
int mtvir_open_file(const char *path, mtvir_el **out)
{{ return started() ? mtvir_py_open_file(path, out) : MTVIR_ERR_ENVIRONMENT; }}
int mtvir_open_memory(const uint8_t *data, size_t size, mtvir_el **out)
{{ return started() ? mtvir_py_open_memory(data, size, out) : MTVIR_ERR_ENVIRONMENT; }}
int mtvir_get_info(mtvir_el *el, mtvir_info *info)
{{ return started() ? mtvir_py_get_info(el, info) : MTVIR_ERR_ENVIRONMENT; }}
int mtvir_open_file_tier(const char *path, const char *tier, double fps, mtvir_el **out)
{{ return started() ? mtvir_py_open_file_tier(path, tier, fps, out) : MTVIR_ERR_ENVIRONMENT; }}
int mtvir_open_memory_tier(const uint8_t *data, size_t size, const char *tier, double fps, mtvir_el **out)
{{ return started() ? mtvir_py_open_memory_tier(data, size, tier, fps, out) : MTVIR_ERR_ENVIRONMENT; }}
const char *mtvir_tier(mtvir_el *el) {{ return started() ? mtvir_py_tier(el) : NULL; }}
int mtvir_macs_per_pixel(mtvir_el *el) {{ return started() ? mtvir_py_macs_per_pixel(el) : MTVIR_ERR_ENVIRONMENT; }}
const char *mtvir_provider(mtvir_el *el) {{ return started() ? mtvir_py_provider(el) : NULL; }}
int mtvir_enhance(mtvir_el *el, void *plane, ptrdiff_t stride, int width, int height, int bit_depth,
                  int frame_index)
{{
    return started() ? mtvir_py_enhance(el, plane, stride, width, height, bit_depth, frame_index)
                     : MTVIR_ERR_ENVIRONMENT;
}}
const char *mtvir_planes(mtvir_el *el) {{ return started() ? mtvir_py_planes(el) : NULL; }}
int mtvir_enhance_frame(mtvir_el *el, void *y, ptrdiff_t y_stride, void *u, ptrdiff_t u_stride, void *v,
                        ptrdiff_t v_stride, int width, int height, int chroma_width, int chroma_height,
                        int bit_depth, int frame_index)
{{
    return started() ? mtvir_py_enhance_frame(el, y, y_stride, u, u_stride, v, v_stride, width, height,
                                              chroma_width, chroma_height, bit_depth, frame_index)
                     : MTVIR_ERR_ENVIRONMENT;
}}
const char *mtvir_last_error(void) {{ return started() ? mtvir_py_last_error() : start_error; }}
void mtvir_close(mtvir_el *el) {{ if (started()) mtvir_py_close(el); }}
"""


def python_declarations() -> list[str]:
    """The header's prototypes of the functions implemented in Python, renamed mtvir_py_*."""
    text = re.sub(r"/\*.*?\*/", " ", declarations(), flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    decls = [" ".join(d.split()) for d in text.split(";")]
    out = []
    for name in PYTHON_FUNCTIONS:
        decl = next(d for d in decls if f" mtvir_{name}(" in d or f"*mtvir_{name}(" in d)
        out.append(decl.replace(f"mtvir_{name}(", f"mtvir_py_{name}("))
    return out


def build(out_dir: str | Path, verbose: bool = False, python: str | None = None) -> Path:
    import cffi

    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise SystemExit("this Python has no shared libpython: the C ABI cannot embed it")
    env = environment(python)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    ffi = cffi.FFI()
    ffi.cdef(declarations())  # the types and constants of mtvir.h (and its functions, defined in c_source)
    ffi.cdef("\n".join(f'extern "Python" {decl};' for decl in python_declarations()))
    ffi.embedding_api("")  # the exported functions are the C ones above
    ffi.embedding_init_code(f"""
import site
for folder in {env['folders']!r}:
    site.addsitedir(folder)  # also runs the .pth files of editable installs
from _mtvir_capi import ffi
from mtvir_decoder.capi import install
install(ffi)
""")
    libdir = sysconfig.get_config_var("LIBDIR")
    ffi.set_source("_mtvir_capi", c_source(env), include_dirs=[str(HEADER.parent)],
                   extra_link_args=[f"-Wl,-rpath,{libdir}", "-lpthread"])
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(ffi.compile(tmpdir=tmp, target="libmtvir.*", verbose=verbose))
        target = out_dir / built.name
        with atomic_path(target) as partial:
            shutil.copy2(built, partial)
    shutil.copy2(HEADER, out_dir / HEADER.name)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mtvir_decoder.capi.build", description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, default=Path("build/capi"), help="folder for libmtvir and mtvir.h")
    p.add_argument("--python", help="the interpreter whose environment the library starts (default: this one; "
                   "same Python version)")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    lib = build(a.output, a.verbose, a.python)
    print(f"built {lib} and {a.output / HEADER.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
