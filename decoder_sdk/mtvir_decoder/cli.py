"""``mtvir-decode BL [EL] -o OUT``: decode the base layer, enhance every frame's planes with the EL (a .mtvir file, or
the one the BL carries in band), write the video. ``mtvir-shader SOURCE -o OUT.glsl``: the EL as an mpv /
libplacebo user shader.

Needs PyAV (``pip install 'mtvir[video]'``) for video files. A missing, damaged or mismatched EL gives mtvir-decode
one warning and the BL frames untouched, as a player would show them; mtvir-shader refuses it and writes nothing.
"""
from __future__ import annotations

import argparse
import signal
import sys
import warnings
from pathlib import Path

import numpy as np

from . import files, tiers, video, y4m
from .errors import MtvirError, MtvirWarning, UnreadableFileError
from .fallback import SafeEnhancer
from .metrics import psnr
from .tiers import NAMES as TIER_NAMES

LOSSLESS = {".mkv": "ffv1", ".nut": "ffv1", ".avi": "ffv1"}


def raise_on_sigterm() -> None:
    """Make SIGTERM raise SystemExit, as Ctrl-C raises KeyboardInterrupt, so that the commands' cleanup (finally
    blocks that delete temporaries) runs: a killed command leaves no partial output."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def run_command(prog: str, action, interrupted: str = "nothing written"):
    """(exit status, result) of ``action()`` run as command ``prog``: an MtvirError or OSError becomes one line on
    stderr (status 2), Ctrl-C or SIGTERM stop it after its cleanup (status 130 or 143)."""
    raise_on_sigterm()
    try:
        return 0, action()
    except (MtvirError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print(f"{prog}: interrupted, {interrupted}", file=sys.stderr)
        return 130, None


def warnings_to_stderr(prog: str) -> None:
    """Every MtvirWarning as one line on stderr, named by the command (no Python source line)."""
    def show(message, category, *_args, **_kw):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    warnings.simplefilter("always", MtvirWarning)


def progress_bar(iterable=None, progress: bool = True, **kw):
    """A tqdm bar on a terminal; nothing where stderr is a log file or a pipe (no hundreds of redraws there)."""
    from tqdm import tqdm
    return tqdm(iterable, disable=None if progress else True, dynamic_ncols=True, **kw)


OUTPUTS = (".y4m", *LOSSLESS)


class _Output:
    """Y4M (raw) or FFV1 in a container (lossless), written to ``path`` (decode gives it a temporary name)."""

    def __init__(self, path: Path, info: video.StreamInfo):
        if path.suffix.lower() in LOSSLESS:  # the container its name says
            av = video._av()
            self.container = av.open(str(path), "w")
            self.stream = self.container.add_stream(LOSSLESS[path.suffix.lower()], rate=info.fps)
            self.stream.width, self.stream.height = info.width, info.height
            self.stream.pix_fmt = "yuv420p" if info.bit_depth == 8 else "yuv420p10le"
            self.writer = None
        else:
            self.file = open(path, "wb")
            fps = f"{info.fps.numerator}:{info.fps.denominator}"
            self.writer = y4m.Writer(self.file, y4m.Y4mHeader(info.width, info.height, info.bit_depth, fps))

    def write(self, planes) -> None:
        if self.writer is not None:
            self.writer.write(*planes)
            return
        self.container.mux(self.stream.encode(video.to_frame(planes)))

    def close(self, complete: bool) -> None:
        """Flush (when every frame was written) and close."""
        if self.writer is not None:
            self.file.close()
            return
        if complete:
            self.container.mux(self.stream.encode(None))
        self.container.close()


def decode(bl: Path, el: Path | None, out: Path, original: Path | None = None, frames: int | None = None,
           progress: bool = True, providers: list[str] | None = None, log=print, tier: str = "auto") -> dict:
    """Write OUT from BL (+ EL); with ``original``, return and log per-frame PSNR-Y of BL and BL+EL. ``tier``:
    which tier of a tiered EL (``auto``: the most complex this machine runs at the video's frame rate)."""
    if out.suffix.lower() not in OUTPUTS:
        raise MtvirError(f"cannot write {out.name}: mtvir-decode writes raw video (.y4m) or lossless FFV1 "
                         f"({', '.join(LOSSLESS)}); a lossy re-encode would hide what the EL does")
    info = video.probe(bl)
    if el is None:  # the EL may travel inside the BL's bitstream
        from .carriage import in_band
        el = in_band(bl)
    if tier != "auto" and el is not None:
        _check_tier(el, tier)
    options = {"providers": providers} if providers else {}
    enhancer = SafeEnhancer(el, width=info.width, height=info.height, bit_depth=info.bit_depth,
                            frame_count=info.frames if frames is None else None, tier=tier,
                            fps=float(info.fps) if info.fps else None, **options)
    if not out.parent.is_dir():
        raise MtvirError(f"output folder {out.parent} does not exist")
    peak = (1 << info.bit_depth) - 1
    sources = video.frames(original, frames) if original else None
    rows = []
    total = min(frames, info.frames) if frames and info.frames else (frames or info.frames or None)
    with files.atomic_path(out) as partial:  # renamed to OUT once every frame is written, else removed
        writer, complete = _Output(partial, info), False
        try:
            for i, planes in enumerate(progress_bar(video.frames(bl, frames), progress, total=total, unit="frame",
                                                    desc="mtvir-decode")):
                y, u, v = enhancer.enhance_frame(*planes[:3], i)
                writer.write((y, u, v))
                if sources is not None:
                    ref = next(sources, None)
                    if ref is None:
                        raise MtvirError(f"the original {original} has fewer frames than the BL")
                    if ref[0].shape != y.shape or ref[0].dtype != y.dtype:
                        raise MtvirError(f"the original's frames ({ref[0].shape[1]}x{ref[0].shape[0]}, "
                                         f"{ref[0].dtype}) do not match the BL's ({y.shape[1]}x{y.shape[0]}, "
                                         f"{y.dtype})")
                    # (frame, PSNR-Y, -U, -V of the BL, then of BL+EL)
                    rows.append((i, *(psnr(p, r, peak) for p, r in zip(planes[:3], ref)),
                                 *(psnr(p, r, peak) for p, r in zip((y, u, v), ref))))
            complete = True
        finally:
            writer.close(complete)
    result = {"frames": i + 1, "enhanced": enhancer.active, "provider": enhancer.enhancer.provider
              if enhancer.active else None, "tier": enhancer.enhancer.tier if enhancer.active else None,
              "planes": enhancer.enhancer.planes if enhancer.active else "",
              "output": str(out)}
    if rows:
        t = np.asarray(rows, np.float64)
        for i, *p in rows:
            log(f"frame {i:5d}  BL {p[0]:7.3f} dB  BL+EL {p[3]:7.3f} dB  {p[3] - p[0]:+.3f}  "
                f"(U {p[4] - p[1]:+.3f}, V {p[5] - p[2]:+.3f})")
        bl_, el_ = t[:, 1:4].mean(axis=0), t[:, 4:7].mean(axis=0)
        yuv_bl, yuv_el = (float(np.mean((6 * t[:, k] + t[:, k + 1] + t[:, k + 2]) / 8)) for k in (1, 4))
        log(f"mean PSNR over {len(rows)} frames, BL -> BL+EL: Y {bl_[0]:.3f} -> {el_[0]:.3f} dB "
            f"({el_[0] - bl_[0]:+.3f}), U {bl_[1]:.3f} -> {el_[1]:.3f} ({el_[1] - bl_[1]:+.3f}), V {bl_[2]:.3f} -> "
            f"{el_[2]:.3f} ({el_[2] - bl_[2]:+.3f}); YUV 6:1:1 {yuv_bl:.3f} -> {yuv_el:.3f} dB ({yuv_el - yuv_bl:+.3f})")
        result.update(psnr_bl=float(bl_[0]), psnr_el=float(el_[0]), psnr_u_bl=float(bl_[1]), psnr_u_el=float(el_[1]),
                      psnr_v_bl=float(bl_[2]), psnr_v_el=float(el_[2]), yuv_psnr_bl=yuv_bl, yuv_psnr_el=yuv_el,
                      per_frame=rows)
    return result


def _check_tier(el: Path | bytes, tier: str) -> None:
    """A tier asked for by name that the EL lacks is the caller's error, not a reason to play the BL; a damaged
    EL is left to the player's fallback."""
    try:
        table = tiers.table(el if isinstance(el, bytes) else Path(el).read_bytes())
    except (MtvirError, OSError):
        return
    table.get(tier)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mtvir-decode", description="Decode a base layer and enhance it with its EL "
                                "(missing or unusable EL: the BL frames come out untouched, with a warning).")
    p.add_argument("bl", type=Path, help="the base-layer video (MP4, MKV, raw HEVC/AV1/H.264...)")
    p.add_argument("el", type=Path, nargs="?", help="the enhancement layer (.mtvir); left out: the one the BL "
                   "carries in band, if any, else the BL alone")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="OUT.y4m (raw), or OUT.mkv / .nut / .avi (lossless FFV1); nothing else is written")
    p.add_argument("--reference", type=Path, metavar="ORIGINAL", help="print PSNR-Y, -U, -V and YUV (6:1:1) of BL "
                   "and BL+EL against it")
    p.add_argument("--frames", type=int, help="decode only the first N frames")
    p.add_argument("--cpu", action="store_true", help="ONNX Runtime on the CPU even where CUDA works")
    p.add_argument("--tier", choices=("auto",) + TIER_NAMES, default="auto",
                   help="which tier of a tiered EL: auto (default: the most complex this machine runs at the video's "
                        "frame rate, timed on a probe), or light / full / heavy")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)

    warnings_to_stderr("mtvir-decode")
    status, r = run_command("mtvir-decode", lambda: decode(a.bl, a.el, a.output, a.reference, a.frames, not a.quiet,
                                                           ["CPUExecutionProvider"] if a.cpu else None,
                                                           tier=a.tier))
    if status:
        return status
    what = f"enhanced ({r['tier']} tier, planes {r['planes'].upper()}, {r['provider']})" if r["enhanced"] else \
        "base layer only"
    print(f"wrote {r['output']}: {r['frames']} frames, {what}")
    return 0


def load_el(source: Path) -> bytes:
    """The EL bytes of ``source``: a .mtvir file, or a video carrying its EL in band."""
    try:
        with source.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read {source}: {exc.strerror or exc}") from None
    if head == b"MTVR":
        return source.read_bytes()
    from .carriage import in_band
    data = in_band(source)
    if data is None:
        raise MtvirError(f"{source.name} is neither an EL (.mtvir) nor a video carrying one in band")
    return data


def shader_main(argv: list[str] | None = None) -> int:
    from . import shader
    p = argparse.ArgumentParser(prog="mtvir-shader", description="Write an EL as an mpv / libplacebo user shader "
                                "(//!HOOK LUMA passes, and //!HOOK CHROMA passes for a colour EL's chroma models): "
                                "mpv --glsl-shaders=OUT.glsl VIDEO.")
    p.add_argument("source", type=Path, help="the EL (.mtvir), or a video carrying its EL in band")
    p.add_argument("-o", "--output", type=Path, required=True, help="the shader file to write (.glsl)")
    p.add_argument("--group", type=int, help="the group whose model the shader runs, 0 first (needed when the EL "
                   "has several: a shader cannot tell which frame it draws, so each group gets its own shader)")
    p.add_argument("--precision", choices=shader.PRECISIONS, default="fp16",
                   help="fp16 (default, for live playback): intermediate values as half floats; fp32: to about 22 "
                        "bits through the renderer's half-float textures, closer to mtvir-decode, at twice the passes "
                        "and four times the texture reads")
    p.add_argument("--tier", choices=TIER_NAMES, help="which tier of a tiered EL (default: its most complex)")
    a = p.parse_args(argv)

    def run():
        data = load_el(a.source)
        chroma = {p: tiers.read(data, tier=a.tier, plane=p) for p in "uv"}
        built = shader.build(tiers.read(data, tier=a.tier), a.group, a.precision, chroma)
        if not a.output.parent.is_dir():
            raise MtvirError(f"output folder {a.output.parent} does not exist")
        files.write_atomic(a.output, built.text)
        return built

    warnings_to_stderr("mtvir-shader")
    status, built = run_command("mtvir-shader", run)
    if status:
        return status
    print(f"wrote {a.output}: {built.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
