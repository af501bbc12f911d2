"""Mutation fuzzing of one-file videos (the EL in band), shared by the tests (bounded) and
``bench/fuzz_carriage.py`` (long mode).

The seed is a real one-file MP4: a 16-frame HEVC BL coded by libx265 through PyAV (or AV1 by SVT-AV1), with a
two-group EL carried in SEI messages (metadata OBUs) by ``carriage.embed``. Each case changes bytes in and around the MTVIR messages, anywhere in the
container, truncates the file or inserts and deletes bytes. A case passes when ``Enhancer.from_video`` ends in an
Enhancer or an ``MtvirError`` (never another exception), within 1 s; ``decode_check`` runs the whole
``mtvir-decode`` path (BL frames out, enhanced where the EL survives) with the same contract.
"""
from __future__ import annotations

import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import mtvir_decoder as m
from mtvir_decoder import carriage, references

FRAMES, WIDTH, HEIGHT = 16, 64, 48


def make_seed(folder: Path, tiered: bool = False, colour: bool = False, codec: str = "libx265") -> Path:
    """``folder/one.mp4``: a 16-frame 64x48 x265 BL carrying a two-group EL in band (``tiered``: a tiered EL, a light
    and a full tier of two groups each, so each message holds both tiers' group; ``colour``: a colour EL whose U and
    V model has one group, so the first message holds a luma and a chroma group, the second a luma one alone;
    ``codec="libsvtav1"``: an AV1 BL, the messages in metadata OBUs; ``"libx264"``: H.264, in SEI)."""
    import av
    from conftest import perturbed, random_params
    from mtvir_encoder.bl import scheduling_kept
    folder.mkdir(parents=True, exist_ok=True)
    bl, one = folder / "bl.mp4", folder / "one.mp4"
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    with av.open(str(bl), "w") as out, scheduling_kept():
        s = out.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        s.options = {"libx265": {"x265-params": "log-level=none:info=0:keyint=8:qp=37"},
                     "libx264": {"qp": "37", "g": "8", "bf": "2"},
                     "libsvtav1": {"qp": "50", "preset": "10", "svtav1-params": "keyint=8"}}[codec]
        for i in range(FRAMES):
            y = (128 + 60 * np.sin((xx + 3 * i) / 6.0) + rng.normal(0, 8, xx.shape)).clip(0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(
                np.concatenate([y, np.full((HEIGHT // 2, WIDTH), 128, np.uint8)]), format="yuv420p")
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    ref = references.default()
    el = m.write(ref.arch, [(0, 8, perturbed(ref.params, 1, 50), m.Coding()),
                            (8, 8, perturbed(ref.params, 2, 50), m.Coding())], ref, WIDTH, HEIGHT, 8, FRAMES)
    if tiered:
        light = m.descriptor.light(channels=8, convs=3)
        el = m.tiers.write({"full": el, "light": m.write(light, [(0, 8, random_params(light, 1), m.Coding()),
                                                                 (8, 8, random_params(light, 2), m.Coding())],
                                                        None, WIDTH, HEIGHT, 8, FRAMES)})
    if colour:
        light = m.descriptor.light(channels=8, convs=3)
        el = m.tiers.write({"full": {"y": el, "uv": m.write(light, [(0, 16, random_params(light, 3), m.Coding())],
                                                            None, WIDTH // 2, HEIGHT // 2, 8, FRAMES)}}, "4:2:0")
    carriage.embed(bl, el, one, ref)
    return one


def _sei_positions(data: bytes) -> list[int]:
    out, at = [], data.find(carriage.MTVIR_UUID)
    while at >= 0:
        out.append(at)
        at = data.find(carriage.MTVIR_UUID, at + 1)
    return out


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One mutant of ``data`` and the mutator's name."""
    b = bytearray(data)
    kind = ["near_sei", "near_sei", "anywhere", "header", "truncate", "insert", "delete"][rng.integers(7)]
    if kind == "near_sei":
        centre = int(rng.choice(_sei_positions(data)))
        for _ in range(rng.integers(1, 6)):
            pos = int(np.clip(centre + rng.integers(-40, 80), 0, len(b) - 1))
            b[pos] = rng.integers(256) if rng.random() < 0.7 else b[pos] ^ (1 << rng.integers(8))
    elif kind in ("anywhere", "header"):
        span = min(len(b), 2048) if kind == "header" else len(b)  # the MP4's boxes and their metadata come first
        for _ in range(rng.integers(1, 9)):
            b[rng.integers(span)] = rng.integers(256)
    elif kind == "truncate":
        b = b[:rng.integers(0, len(b))]
    elif kind == "insert":
        pos = rng.integers(len(b))
        b[pos:pos] = rng.integers(0, 256, rng.integers(1, 64)).astype(np.uint8).tobytes()
    else:
        pos = rng.integers(len(b))
        del b[pos:pos + rng.integers(1, 64)]
    return kind, bytes(b)


@dataclass
class Stats:
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    slowest: tuple[float, str] = (0.0, "")
    failures: list[str] = field(default_factory=list)

    def report(self) -> str:
        return (f"{self.cases} cases, contract broken {len(self.failures)}; outcomes {dict(self.outcomes)}; "
                f"slowest {self.slowest[0] * 1000:.0f} ms ({self.slowest[1]})")


def _run(stats: Stats, name: str, action) -> None:
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            action()
        outcome = "ok"
    except m.MtvirError as exc:
        outcome = type(exc).__name__
    except Exception:
        outcome = "BROKEN"
        stats.failures.append(f"{name}: {traceback.format_exc(limit=-3)}")
    elapsed = time.perf_counter() - t0
    stats.cases += 1
    stats.outcomes[outcome] += 1
    stats.slowest = max(stats.slowest, (elapsed, name))


def fuzz(seed_file: Path, cases: int, seed: int = 0, seconds: float | None = None, decode_every: int = 0,
         folder: Path | None = None) -> Stats:
    """``cases`` mutants of ``seed_file`` opened with ``Enhancer.from_video``; every ``decode_every``-th also goes
    through mtvir-decode's whole path (0: none)."""
    from mtvir_decoder import cli
    data = Path(seed_file).read_bytes()
    folder = Path(folder or Path(seed_file).parent)
    rng = np.random.default_rng(seed)
    stats, t_end = Stats(), time.time() + seconds if seconds else None
    for k in range(cases):
        if t_end and time.time() > t_end:
            break
        kind, mutant = mutate(data, rng)
        path = folder / f"mutant{k % 2}.mp4"
        path.write_bytes(mutant)
        _run(stats, f"case {k} ({kind}) from_video", lambda: m.Enhancer.from_video(path))
        if decode_every and k % decode_every == 0:
            out = folder / "mutant.y4m"
            _run(stats, f"case {k} ({kind}) mtvir-decode",
                 lambda: cli.decode(path, None, out, progress=False, log=lambda *_: None))
    return stats
