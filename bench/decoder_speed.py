"""Decoder speed: ONNX Runtime against torch on the same folded weights, in one run (ratios, not absolutes).

    python bench/decoder_speed.py [--sizes 176x144,1280x720,1920x1080] [--repeat 5] [--no-4k] [--tiers-only]

First, per complexity tier (the shipped light and full QP 37 references): frames per second at 1280x720,
1920x1080 and 3840x2160 through the call a player makes (``Enhancer.enhance`` on a uint8 luma plane, its default
tiles), the bare session on the float plane beside it, and an int8 QDQ graph of the same weights
(ONNX Runtime's quantize_static, per-channel int8 weights, uint8 activations, calibrated on a natural picture),
each against the numpy float32 matmul of the same run, with how far int8's samples land from float32's.

Prints ms/frame per size for ONNX Runtime (CPU; CUDA fp32/fp16 where a GPU really loads), the same as the SDK ran
it before 2026-12-02 (the 9x9 mean as AveragePool, tiles of at most 1024 on each side), torch eager (NCHW and
channels_last; fp16 channels_last on a GPU), their ratio, the achieved GFLOP/s against a float32 numpy matmul on
this machine, the open-to-ready time of an Enhancer, and the peak memory of a 3840x2160 frame (a child process).
torch is used here only as the baseline; the SDK never imports it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import mtvir_decoder as m  # noqa: E402


def model_bytes() -> tuple[bytes, m.Reference]:
    try:
        ref = m.references.default()
    except m.MtvirError:
        from conftest import random_params
        ref = m.Reference(m.sefcnn(), random_params(m.sefcnn(), 0))
    return m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref), ref


def timeit(fn, repeat: int) -> float:
    fn()  # warm-up: allocations, algorithm choice
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1000


def matmul_gflops() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    a @ a
    t = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 2048 ** 3 / (time.perf_counter() - t) / 1e9


def torch_runner(ref: m.Reference, device: str, channels_last: bool, half: bool):
    import torch
    from mtvir_encoder.network import Network
    net = Network(ref.arch).load_params(ref.params).eval().to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    if half:
        net = net.half()

    def run(x: np.ndarray):
        with torch.inference_mode():
            t = torch.from_numpy(x)[None, None].to(device)
            t = t.half() if half else t
            y = net(t.contiguous(memory_format=fmt))
            if device == "cuda":
                torch.cuda.synchronize()
            return y
    return run


def before_runner(enh: m.Enhancer):
    """The SDK's CPU path before 2026-12-02: AveragePool for the squeeze-excitation's mean, and each side cut
    into tiles of at most ``tile`` (a 1280x720 frame in two regions of 702x720)."""
    import onnx
    import onnxruntime as ort
    from onnx import helper
    model = onnx.load_from_string(m.graph.build(enh.el.arch, enh.el.groups[0].params.folded(enh.el.arch)))
    nodes = []
    for node in model.graph.node:
        if node.output[0].endswith("_rows"):
            k = next(a.ints[0] for a in node.attribute if a.name == "kernel_shape")
            nodes.append(helper.make_node("AveragePool", [node.input[0]], [node.output[0][:-5] + "_pool"],
                                          kernel_shape=[k, k], pads=[k // 2] * 4, count_include_pad=1))
        elif not node.output[0].endswith("_pool"):
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    kept = [t for t in model.graph.initializer if not t.name.startswith("mean")]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_mem_pattern = False
    opts.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    halo, tile = enh.halo, enh.tile

    def run(x: np.ndarray):
        spans = [m.enhance._spans(n, 1 if n <= tile + 2 * halo else -(-n // tile), halo) for n in x.shape]
        out = np.empty_like(x)
        for y0, y1, ry0, ry1 in spans[0]:
            for x0, x1, rx0, rx1 in spans[1]:
                y = session.run(None, {"luma": np.ascontiguousarray(x[None, None, ry0:ry1, rx0:rx1])})[0]
                out[y0:y1, x0:x1] = y[0, 0, y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0]
        return out
    return run


def peak_memory_4k(data_path: str, ref_path: str) -> float:
    code = textwrap.dedent(f"""
        import numpy as np, mtvir_decoder as m
        ref = m.Reference.load({ref_path!r})
        e = m.Enhancer({data_path!r}, reference=ref, providers=["CPUExecutionProvider"])
        e.enhance(np.random.default_rng(0).integers(0, 256, (2160, 3840), dtype=np.uint8))
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's peak at fork
        print(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


TIER_SIZES = ((1280, 720), (1920, 1080), (3840, 2160))


def picture(h: int, w: int) -> np.ndarray:
    """A natural 8-bit picture of this size (scikit-image's astronaut, tiled): what calibration and timing see."""
    from skimage import color, data
    y = (color.rgb2gray(data.astronaut()) * 255).astype(np.uint8)
    return np.tile(y, (-(-h // y.shape[0]), -(-w // y.shape[1])))[:h, :w]


def int8_runner(enh: m.Enhancer, calibration: np.ndarray):
    """The Enhancer's float32 graph as a QDQ int8 graph (U8S8, per-channel weights), run whole-frame."""
    import logging
    import tempfile
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process the graph: measured as it is

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"luma": (calibration[y:y + 256, x:x + 256].astype(np.float32) / 255)[None, None]}
                               for y in (0, 256) for x in (0, 256)])

        def get_next(self):
            return next(self.items, None)

    # SpaceToDepth and a 4-channel convolution: as a strided 1-channel one the light tier's int8 head runs 2x slower
    model = onnx.load_from_string(m.graph.build(enh.el.arch, enh.el.groups[0].params.folded(enh.el.arch),
                                                strided=False))
    with tempfile.TemporaryDirectory() as d:
        Path(d, "f.onnx").write_bytes(model.SerializeToString())
        quantize_static(str(Path(d, "f.onnx")), str(Path(d, "q.onnx")), Frames(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        q = Path(d, "q.onnx").read_bytes()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    session = ort.InferenceSession(q, opts, providers=["CPUExecutionProvider"])
    block = enh.el.arch.block

    def run(x: np.ndarray) -> np.ndarray:
        h, w = x.shape
        x = np.pad(x, ((0, -h % block), (0, -w % block)), constant_values=np.float32(enh.el.arch.input_offset))
        return session.run(None, {"luma": x[None, None]})[0][0, 0, :h, :w]
    return run


def tier_table(repeat: int, mm: float) -> None:
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    refs = {"light": m.references.starting_points("light"), "full": m.references.starting_points("full")}
    print(f"\nper tier (the QP 37 band references), 1 frame = one luma plane; numpy float32 matmul {mm:.1f} GFLOP/s")
    print(f"{'tier':>6} {'MAC/px':>7} {'size':>10} {'enhance ms':>10} {'fps':>6} {'session ms':>10} {'of matmul':>10} "
          f"{'int8 ms':>8} {'int8 fps':>9} {'int8 vs fp32 (8-bit samples)':>36}")
    for name, found in refs.items():
        ref = next((r for r in found if r.name.endswith("qp37")), None)
        if ref is None:
            print(f"{name:>6}: no QP 37 reference installed")
            continue
        enh = m.Enhancer(m.write(ref.arch, [(0, 1, ref.params, m.Coding())], ref), reference=ref,
                         providers=["CPUExecutionProvider"])  # a player's defaults
        q = int8_runner(enh, picture(512, 512))
        for w, h in TIER_SIZES:
            y = picture(h, w)
            x = y.astype(np.float32) / 255
            f32 = timeit(lambda: enh.run_float(x), repeat)  # the bare session on a float plane
            player = timeit(lambda: enh.enhance(y), repeat)  # what a player's call costs: uint8 in, uint8 out
            i8 = timeit(lambda: q(x), repeat)
            a, b = (np.rint(np.clip(v, 0, 1) * 255) for v in (enh.run_float(x), q(x)))
            diff = np.abs(a - b)
            gflops = 2 * ref.arch.macs_per_pixel * w * h / (f32 / 1000) / 1e9
            print(f"{name:>6} {ref.arch.macs_per_pixel:7,} {w:>5}x{h:<4} {player:10.1f} {1000 / player:6.1f} "
                  f"{f32:10.1f} {100 * gflops / mm:9.0f}% {i8:8.1f} {1000 / i8:9.1f}   max {diff.max():.0f}, "
                  f"{100 * np.mean(diff > 0):5.1f} % differ, {100 * np.mean(diff <= 1):5.1f} % within 1")
            if cuda:  # the same weights in torch on the GPU (ONNX Runtime's CUDA provider where it loads is above)
                cells = []
                for half in (False, True):
                    run = torch_runner(ref, "cuda", True, half)
                    cells.append(timeit(lambda: run(x), 4 * repeat))
                print(f"{'':>6} {'':>7} {'':>10} torch CUDA fp32 {cells[0]:.2f} ms ({1000 / cells[0]:,.0f} fps), "
                      f"fp16 channels_last {cells[1]:.2f} ms ({1000 / cells[1]:,.0f} fps)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="176x144,1280x720,1920x1080")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-4k", action="store_true", help="skip the 3840x2160 peak-memory run")
    p.add_argument("--tiers-only", action="store_true", help="only the per-tier table")
    a = p.parse_args()
    data, ref = model_bytes()
    print(f"machine: {os.cpu_count()} cores, onnxruntime {m.enhance.ort.__version__}, CUDA usable: "
          f"{m.enhance.cuda_works()}")
    mm = matmul_gflops()
    tier_table(a.repeat, mm)
    if a.tiers_only:
        return
    import torch
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    macs = ref.arch.macs_per_pixel
    print(f"numpy float32 matmul: {mm:.1f} GFLOP/s; network: {macs / 1000:.1f} kMAC/pixel")
    t = time.perf_counter()
    enh = m.Enhancer(data, reference=ref, providers=["CPUExecutionProvider"])
    print(f"open-to-ready (parse, decode, fold, session): {(time.perf_counter() - t) * 1000:.1f} ms")
    rows = []
    for size in a.sizes.split(","):
        w, h = map(int, size.split("x"))
        x = np.random.default_rng(1).random((h, w), dtype=np.float32)
        before = before_runner(enh)
        assert np.abs(before(x) - enh.run_float(x)).max() < 1e-5
        ort_ms, old_ms = (timeit(run, a.repeat) for run in (lambda: enh.run_float(x), lambda: before(x)))
        eager_run = torch_runner(ref, "cpu", False, False)
        eager = timeit(lambda: eager_run(x), a.repeat)
        cl_run = torch_runner(ref, "cpu", True, False)
        cl = timeit(lambda: cl_run(x), a.repeat)
        gflops = 2 * macs * w * h / (ort_ms / 1000) / 1e9
        rows.append((size, ort_ms, old_ms, eager, cl, min(eager, cl) / ort_ms, gflops, gflops / mm))
    print(f"\n{'size':>10} {'ORT CPU ms':>11} {'before ms':>10} {'vs before':>10} {'torch ms':>9} {'torch CL ms':>12} "
          f"{'speed-up vs best torch':>23} {'ORT GFLOP/s':>12} {'of matmul':>10}")
    for r in rows:
        print(f"{r[0]:>10} {r[1]:11.1f} {r[2]:10.1f} {r[2] / r[1]:9.2f}x {r[3]:9.1f} {r[4]:12.1f} {r[5]:22.2f}x "
              f"{r[6]:12.1f} {100 * r[7]:9.0f}%")
    if m.enhance.cuda_works() and torch.cuda.is_available():
        print("\nCUDA (1920x1080):")
        x = np.random.default_rng(1).random((1080, 1920), dtype=np.float32)
        for prec in ("fp32", "fp16"):
            g = m.Enhancer(data, reference=ref, precision=prec, tile=1024)
            print(f"  ORT CUDA {prec}: {timeit(lambda: g.run_float(x), a.repeat * 4):.2f} ms ({g.provider})")
        th = torch_runner(ref, "cuda", True, True)
        print(f"  torch fp16 channels_last: {timeit(lambda: th(x), a.repeat * 4):.2f} ms")
    if not a.no_4k:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            Path(d, "el.mtvir").write_bytes(data)
            Path(d, "ref.mtvir").write_bytes(ref.to_bytes())
            mib = peak_memory_4k(str(Path(d, "el.mtvir")), str(Path(d, "ref.mtvir")))
        print(f"\npeak memory enhancing one 3840x2160 frame (whole process): {mib:.0f} MiB (target < 1024)")


if __name__ == "__main__":
    main()
