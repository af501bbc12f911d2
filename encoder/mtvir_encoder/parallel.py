"""Segment-parallel export: every segment coded on its own, on Ray workers or one after another in this process.

A worker gets one segment's frames and returns a closed BL chunk (a self-contained MP4 whose first picture is an
IDR) and the segment's choice, made by the same ``segment.code_segment`` as the streaming export, with learning
started from the reference (a worker cannot wait for the previous segment's model, so segments neither warm-start
nor share). The driver joins the chunks into one stream (``bl.Joiner``) and the models into one EL.

``workers=0`` runs the same tasks in this process without Ray: a Ray run with the same ``threads`` gives the same
bytes (test). ``workers=N`` starts a local Ray with N CPUs; ``address`` joins a running cluster (every node needs
this package: ``pip install 'mtvir[encoder,cluster]'``). Ray comes with the ``cluster`` extra.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from mtvir_decoder import MtvirError, Reference
from mtvir_decoder.video import sample_depth

from . import bl
from .online import OnlineConfig
from .segment import SegmentResult, code_segment
from .segment import pick_reference as _pick


@dataclass
class Task:
    first: int  # the segment's first frame in the video
    planes: tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V of its frames, stacked
    fps: Fraction
    codec: str
    qp: int
    config: str
    reference: Reference
    online: OnlineConfig
    lam: float  # J's lambda, one for the whole EL
    sample_pixels: int
    ablations: bool
    threads: int
    measure: str = "auto"  # how the chosen model is measured (``segment.MEASURES``)


@dataclass
class Chunk:
    first: int
    bl: bytes  # the segment's BL, a self-contained MP4
    result: SegmentResult
    seconds_bl: float = 0.0


def code_chunk(task: Task) -> Chunk:
    """One segment alone: its BL as a closed chunk, then learning from the reference and selection."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(task.threads)
    try:
        y, u, v = task.planes
        video = bl.Video(list(y), list(u), list(v), task.fps, sample_depth(y))
        t0 = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            base = bl.code(video, Path(tmp) / "chunk.mp4", task.codec, task.qp, task.config)
            data = base.path.read_bytes()
        seconds_bl = time.time() - t0
        n = len(video)
        result = code_segment(task.reference, base.recon.y, video.y, video.bit_depth, np.asarray(base.bits, float),
                              np.full(n, task.lam), task.online,
                              sample_pixels=task.sample_pixels, ablations=task.ablations, threads=task.threads,
                              measure=task.measure)
        result.drop_unchosen_params()  # what travels back: figures, and the one model the EL needs
        return Chunk(task.first, data, result, seconds_bl)
    finally:
        torch.set_num_threads(threads)


def pick_reference(planes, fps, codec, qp, config, choices: list[Reference], lam: float, sample_pixels: int,
                   seed: int) -> Reference:
    """The EL's reference, picked by J on the first segment (its BL coded here once more) before any worker starts
    learning: every worker's model must be a residue against the same one."""
    y, u, v = planes
    video = bl.Video(list(y), list(u), list(v), fps, sample_depth(y))
    with tempfile.TemporaryDirectory() as tmp:
        base = bl.code(video, Path(tmp) / "first.mp4", codec, qp, config)
    return _pick(choices, base.recon.y, video.y, video.bit_depth, np.asarray(base.bits, float),
                 np.full(len(video), lam), sample_pixels, seed)


def run(segments: Iterator[Task], workers: int, address: str | None, on_chunk: Callable[[Chunk], None]) -> None:
    """Code every segment (in this process, or on Ray with at most workers + 1 in flight) and hand the chunks to
    ``on_chunk`` in order, as they come: memory holds a few segments, not the video."""
    if workers == 0 and address is None:
        for task in segments:
            on_chunk(code_chunk(task))
        return
    try:
        import ray
    except ImportError:
        raise MtvirError("--workers and --ray-address need Ray: pip install 'mtvir[cluster]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            else:
                # Ray runs workers at nice 15 by default: beside any other load they would crawl (10x seen here)
                ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                         _system_config={"worker_niceness": 0})
        except Exception as exc:  # a cluster that cannot be reached, a broken local start
            raise MtvirError(f"could not start Ray ({address or 'local'}): {exc}") from None
    remote = ray.remote(num_cpus=1, max_retries=0)(code_chunk)
    limit = max(1, int(ray.cluster_resources().get("CPU", workers or 1))) + 1
    pending: deque = deque()
    try:
        for task in segments:
            pending.append(remote.remote(task))
            while len(pending) >= limit:
                on_chunk(_get(ray, pending.popleft()))
        while pending:
            on_chunk(_get(ray, pending.popleft()))
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _get(ray, ref) -> Chunk:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # the worker's own error, as the serial export would raise it
        cause = exc.as_instanceof_cause()
        raise (cause if isinstance(cause, MtvirError) else MtvirError(f"a worker failed: {exc}")) from None


def default_threads(workers: int, address: str | None) -> int:
    """Torch and ONNX Runtime threads per task: this machine's cores shared by the local workers, one on a
    cluster (Ray gives each task one CPU)."""
    if address or workers == 0:
        return 1
    return max(1, (os.cpu_count() or 1) // workers)
