"""``mtvir-eval``: BL+EL against the BL alone over clips, configurations and QPs; BD-rate, ablations, tables.

Each point (clip, codec, config, QP, settings) runs the export, then the decode as a player does (the SDK's
``mtvir-decode`` path), and is cached under ``DIR/cache`` by a key of everything that shapes it, so an
interrupted evaluation resumes where it stopped. Rates: the BL's bitstream payload (sum of its packets, no
container) plus, for BL+EL, the whole EL file. BD-rate (piecewise cubic, ``bdrate.py``) of each plane's PSNR, and
of PSNR-YUV = (6 Y + U + V) / 8 (JVET's weighting), every byte of the EL counted in each.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtvir_decoder import MtvirError, Reference, references, video
from mtvir_decoder.cli import decode as sdk_decode
from mtvir_decoder.files import atomic_path, write_atomic

from .bdrate import bd_rate
from .export import export
from .segment import ABLATIONS, FAMILY_LABELS, family_ablation
from .online import OnlineConfig

CACHE_VERSION = 7  # bump when the EL format or the coder changes what a point measures
# the ablations' rows, next to the full method (each learning family alone only where ``--adapt auto`` ran both)
VARIANTS = ("reference", *ABLATIONS, *map(family_ablation, FAMILY_LABELS))


@dataclass
class EvalConfig:
    codec: str = "x265"
    configs: tuple[str, ...] = ("ra", "ai")
    qps: tuple[int, ...] = (22, 27, 32, 37)
    frames: int | None = None
    group: int | None = None
    online: OnlineConfig = dataclasses.field(default_factory=OnlineConfig)
    ablations: bool = False
    threads: int = 0  # of each point's ONNX Runtime (0: every core); not in the cache key: it shapes no figure
    tiers: tuple[str, ...] = ("full",)  # the complexity tiers each export sends
    planes: str = "yuv"  # what each export enhances (``export.PLANE_CHOICES``)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def point_key(clip: Path, digest: str, config: str, qp: int, cfg: EvalConfig, refs: list[Reference]) -> str:
    facts = {"v": CACHE_VERSION, "clip": digest, "codec": cfg.codec, "config": config, "qp": qp,
             "frames": cfg.frames, "group": cfg.group, "online": dataclasses.asdict(cfg.online),
             "reference": [r.id.hex() for r in refs], "ablations": cfg.ablations, "tiers": list(cfg.tiers),
             "tier_references": [r.id.hex() for t in cfg.tiers if t != "full" for r in references.starting_points(t)],
             "planes": cfg.planes, "chroma_references": [r.id.hex() for t in cfg.tiers if cfg.planes != "y"
                                                         for r in references.starting_points(t, plane="chroma")]}
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]
    return f"{clip.stem}_{cfg.codec}_{config}_qp{qp}_{digest}"


def run_point(clip: Path, config: str, qp: int, cfg: EvalConfig, reference: Reference | None, streams: Path,
              progress: bool) -> dict:
    """Export, decode as a player, measure: one row of the results."""
    stem = streams / f"{clip.stem}_{cfg.codec}_{config}_qp{qp}"
    t0 = time.time()
    s = export(clip, stem, cfg.codec, qp, config, cfg.frames, cfg.group, cfg.online, reference, progress=progress,
               ablations=cfg.ablations, threads=cfg.threads, measure="all", tiers=cfg.tiers,
               planes=cfg.planes)  # exact figures
    seconds_export = time.time() - t0
    decoded = stem.with_name(stem.name + ".decoded.y4m")
    tiers = {}
    for t in s.tiers:  # each tier decoded as a player that takes it does
        try:
            d = sdk_decode(Path(s.bl_path), Path(s.el_path), decoded, clip, cfg.frames, progress=False,
                           log=lambda *_: None, tier=t["name"])
        finally:
            decoded.unlink(missing_ok=True)
        if abs(d["psnr_el"] - t["psnr_el"]) > 1e-6:
            raise MtvirError(f"the decoder gets {d['psnr_el']:.6f} dB where the encoder reported {t['psnr_el']:.6f} dB "
                             f"({t['name']} tier)")
        for p in "uv" if s.chroma and t["name"] == s.tiers[-1]["name"] else "":
            if abs(d[f"psnr_{p}_el"] - s.psnr_plane(p)) > 1e-6:
                raise MtvirError(f"the decoder gets PSNR-{p.upper()} {d[f'psnr_{p}_el']:.6f} dB where the encoder "
                                 f"reported {s.psnr_plane(p):.6f} dB")
        tiers[t["name"]] = {"macs_per_pixel": t["macs_per_pixel"], "el_bits_alone": 8 * t["el_bytes"],
                            "psnr_y_el": d["psnr_el"], "yuv_psnr_el": d["yuv_psnr_el"], "chosen": t["chosen"]}
    # d: the last tier decoded, the most complex: the summary's
    seconds = s.frames / float(video.probe(s.bl_path).fps)
    row = {"clip": clip.stem, "codec": cfg.codec, "config": config, "qp": qp, "frames": s.frames,
           "width": s.width, "height": s.height, "bit_depth": s.bit_depth,
           "bl_bits": 8 * s.bl_bytes, "el_bits": 8 * s.el_bytes, "bl_file_bytes": s.bl_file_bytes,
           "bl_kbps": 8 * s.bl_bytes / seconds / 1000, "el_kbps": 8 * s.el_bytes / seconds / 1000,
           "psnr_y_bl": d["psnr_bl"], "psnr_y_el": d["psnr_el"], "yuv_psnr_bl": d["yuv_psnr_bl"],
           "yuv_psnr_el": d["yuv_psnr_el"], **{f"psnr_{p}_{w}": d[f"psnr_{p}_{w}"] for p in "uv" for w in ("bl", "el")},
           "chroma": {p: {k: c[k] for k in ("el_bytes", "reference", "chosen", "lagrangian", "groups")}
                      for p, c in s.chroma.items()},
           "seconds_bl": s.seconds_bl, "seconds_learning": s.seconds_learning,
           "seconds_selection": s.seconds_selection, "seconds_export": seconds_export,
           "chosen": [g.chosen for g in s.groups], "reference": s.reference, "lagrangian": s.lagrangian,
           "lagrangian_source": s.lagrangian_source,
           "groups": [dataclasses.asdict(g) for g in s.groups], "tiers": tiers}
    row["variants"] = _variants(row)
    return row


def _variants(row: dict) -> dict:
    """Rate and PSNR of each ablation at this point (sums over groups, PSNR weighted by frames): luma's, and where
    every chroma plane's model has that candidate too (the reference alone), U's, V's and YUV's with its bytes."""
    def gain(groups, name, planes=None):
        """(bits, mean PSNR change) of that candidate over the groups; ``planes``: a list of changes, one per plane
        of a chroma model (None where a plane's change was not measured on every frame)."""
        found = [next((c for c in g["candidates"] if c["name"] == name), None) for g in groups]
        if not groups or None in found:
            return None
        deltas = [[c["delta_psnr"]] if planes is None else c.get("delta_psnr_planes", [c["delta_psnr"]] * planes
                                                                    if planes == 1 else None) for c in found]
        if any(d is None for d in deltas):
            return None
        change = np.sum([np.asarray(d) * g["frame_count"] for d, g in zip(deltas, groups)], axis=0) / row["frames"]
        return sum(8 * c["bytes"] for c in found), (float(change[0]) if planes is None else list(change))

    out = {}
    for name in VARIANTS:
        luma = gain(row["groups"], name)
        if luma is None:
            continue
        out[name] = {"el_bits": luma[0], "psnr_y": row["psnr_y_bl"] + luma[1]}
        chroma = {model: gain(c["groups"], name, len(model)) for model, c in row.get("chroma", {}).items()}
        if chroma and None not in chroma.values() and "".join(sorted("".join(chroma))) == "uv":
            psnr = {p: row[f"psnr_{p}_bl"] + g[1][model.index(p)] for model, g in chroma.items() for p in model}
            out[name].update(el_bits_yuv=luma[0] + sum(g[0] for g in chroma.values()), psnr_u=psnr["u"],
                             psnr_v=psnr["v"], yuv_psnr=(6 * out[name]["psnr_y"] + psnr["u"] + psnr["v"]) / 8)
    return out


def evaluate(clips: list[Path], out_dir: Path, cfg: EvalConfig, reference: Reference | None = None,
             progress: bool = True, log=print) -> dict:
    """Every point (cached), then BD-rates, ablations, ``results.json``, ``results.csv``, ``results.md``, plots.
    ``reference``: the one to start from (default: the export's choice among the shipped ones)."""
    refs = [reference] if reference else references.starting_points() or [references.default()]
    for t in cfg.tiers:
        if t != "full" and not references.starting_points(t):
            raise MtvirError(f"no {t} tier references are installed (mtvir-pretrain --tier {t})")
    out_dir.mkdir(parents=True, exist_ok=True)
    cache, streams = out_dir / "cache", out_dir / "streams"
    cache.mkdir(exist_ok=True), streams.mkdir(exist_ok=True)
    rows = []
    todo = [(Path(c), config, qp) for c in clips for config in cfg.configs for qp in cfg.qps]
    digests = {}
    for n, (clip, config, qp) in enumerate(todo, 1):
        if not clip.is_file():
            raise MtvirError(f"no such clip: {clip}")
        digest = digests.setdefault(clip, _file_digest(clip))
        key = point_key(clip, digest, config, qp, cfg, refs)
        cached = cache / f"{key}.json"
        if cached.exists():
            rows.append(json.loads(cached.read_text()))
            log(f"[{n}/{len(todo)}] {clip.stem} {config.upper()} QP {qp}: cached")
            continue
        log(f"[{n}/{len(todo)}] {clip.stem} {config.upper()} QP {qp}: export + decode")
        row = run_point(clip, config, qp, cfg, reference, streams, progress)
        write_atomic(cached, json.dumps(row))
        rows.append(row)
        log(f"    BL {row['bl_kbps']:.1f} kbit/s {row['psnr_y_bl']:.3f} dB, EL {row['el_bits'] // 8} B "
            f"{row['psnr_y_el'] - row['psnr_y_bl']:+.3f} dB, {row['seconds_export']:.0f} s")
    every = refs + [r for t in cfg.tiers if t != "full" for r in references.starting_points(t)]  # J's choices
    settings = {**dataclasses.asdict(cfg), "references": [f"{r.name} {r.id.hex()}" for r in every]}
    summary = {"machine": _machine(), "settings": settings,
               "points": rows, "bd_rate": bd_table(rows), "ablations": ablation_table(rows) if cfg.ablations else [],
               "tiers": tier_table(rows) if len(cfg.tiers) > 1 else []}
    write_atomic(out_dir / "results.json", json.dumps(summary, indent=1))
    _write_csv(out_dir / "results.csv", rows)
    from . import plots
    summary["plots"] = [str(p) for p in plots.draw(rows, out_dir)]
    write_atomic(out_dir / "results.md", markdown(summary))
    return summary


def _curves(rows: list[dict]):
    """(clip, config) -> rows sorted by QP."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["clip"], r["config"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["qp"]) for k, v in groups.items()}


def _bd(anchor_rate, anchor_psnr, rate, psnr) -> float | None:
    try:
        return bd_rate(anchor_rate, anchor_psnr, rate, psnr)
    except ValueError:
        return None


def bd_table(rows: list[dict]) -> list[dict]:
    table = []
    for (clip, config), rs in _curves(rows).items():
        bl_rate, bl_psnr = [r["bl_bits"] for r in rs], [r["psnr_y_bl"] for r in rs]
        el_psnr = [r["psnr_y_el"] for r in rs]
        table.append({"clip": clip, "config": config, "qps": [r["qp"] for r in rs],
                      "bd_rate_y": _bd(bl_rate, bl_psnr, [r["bl_bits"] + r["el_bits"] for r in rs], el_psnr),
                      # the EL's bytes left out: what its quality alone is worth, the bound of any better coding
                      "bd_rate_y_el_free": _bd(bl_rate, bl_psnr, bl_rate, el_psnr),
                      "bd_rate_yuv": _bd(bl_rate, [r["yuv_psnr_bl"] for r in rs],
                                         [r["bl_bits"] + r["el_bits"] for r in rs], [r["yuv_psnr_el"] for r in rs]),
                      **{f"bd_rate_{p}": _bd(bl_rate, [r[f"psnr_{p}_bl"] for r in rs],
                                             [r["bl_bits"] + r["el_bits"] for r in rs], [r[f"psnr_{p}_el"] for r in rs])
                         for p in "uv" if all(f"psnr_{p}_el" in r for r in rs)},
                      "bd_rate_yuv_reference": _bd(bl_rate, [r["yuv_psnr_bl"] for r in rs],
                                                   [r["bl_bits"] + r["variants"]["reference"]["el_bits_yuv"]
                                                    for r in rs], [r["variants"]["reference"]["yuv_psnr"] for r in rs])
                      if all("yuv_psnr" in r["variants"].get("reference", {}) for r in rs) else None,
                      "el_bytes_mean": float(np.mean([r["el_bits"] / 8 for r in rs])),
                      "delta_psnr_y": [r["psnr_y_el"] - r["psnr_y_bl"] for r in rs],
                      **{f"delta_psnr_{p}": [r[f"psnr_{p}_el"] - r[f"psnr_{p}_bl"] for r in rs]
                         for p in "uv" if all(f"psnr_{p}_el" in r for r in rs)}})
    return table


def tier_table(rows: list[dict]) -> list[dict]:
    """Per tier: BD-rate Y with every tier's bytes counted (what is sent) and with the tier's own bytes alone (an EL
    of that tier only), its MACs per pixel and its delta PSNR-Y per QP."""
    table = []
    for (clip, config), rs in _curves(rows).items():
        bl_rate, bl_psnr = [r["bl_bits"] for r in rs], [r["psnr_y_bl"] for r in rs]
        for name in rs[0]["tiers"]:
            t = [r["tiers"][name] for r in rs]
            psnr = [x["psnr_y_el"] for x in t]
            table.append({"clip": clip, "config": config, "tier": name, "macs_per_pixel": t[0]["macs_per_pixel"],
                          "bd_rate_y": _bd(bl_rate, bl_psnr, [r["bl_bits"] + r["el_bits"] for r in rs], psnr),
                          "bd_rate_y_alone": _bd(bl_rate, bl_psnr, [r["bl_bits"] + x["el_bits_alone"]
                                                                    for r, x in zip(rs, t)], psnr),
                          "el_bytes_alone": float(np.mean([x["el_bits_alone"] / 8 for x in t])),
                          "delta_psnr_y": [x["psnr_y_el"] - r["psnr_y_bl"] for r, x in zip(rs, t)]})
    return table


def ablation_table(rows: list[dict]) -> list[dict]:
    table = []
    for (clip, config), rs in _curves(rows).items():
        bl_rate, bl_psnr = [r["bl_bits"] for r in rs], [r["psnr_y_bl"] for r in rs]
        full = _bd(bl_rate, bl_psnr, [r["bl_bits"] + r["el_bits"] for r in rs], [r["psnr_y_el"] for r in rs])
        entry = {"clip": clip, "config": config, "MTVIR (RUO choice)": full,
                 "el_bytes": {"MTVIR (RUO choice)": float(np.mean([r["el_bits"] / 8 for r in rs]))}}
        for name in VARIANTS:
            if all(name in r["variants"] for r in rs):
                v = [r["variants"][name] for r in rs]
                entry[name] = _bd(bl_rate, bl_psnr, [r["bl_bits"] + x["el_bits"] for r, x in zip(rs, v)],
                                  [x["psnr_y"] for x in v])
                entry["el_bytes"][name] = float(np.mean([x["el_bits"] / 8 for x in v]))
        if full is not None and entry.get("reference") is not None:  # the online step's share of the BD-rate, in
            entry["online step"] = full - entry["reference"]  # points (negative: a gain), beside the reference's own
        table.append(entry)
    return table


def _fmt(x, digits=2, suffix=" %"):
    return "n/a" if x is None else f"{x:+.{digits}f}{suffix}"


def markdown(summary: dict) -> str:
    delta = lambda r, p: (f"{r[f'psnr_{p}_el'] - r[f'psnr_{p}_bl']:+.3f}" if f"psnr_{p}_el" in r else "n/a")
    lines = [f"Machine: {summary['machine']}", "",
             "| clip | config | QP | BL kbit/s | BL PSNR-Y | EL bytes (of them U, V) | EL kbit/s | BL+EL PSNR-Y | "
             "delta Y / U / V | YUV-PSNR BL / BL+EL | chosen Y; U; V | export s (learning) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["points"]:
        chroma = r.get("chroma", {})
        lines.append(f"| {r['clip']} | {r['config'].upper()} | {r['qp']} | {r['bl_kbps']:.1f} | {r['psnr_y_bl']:.3f} | "
                     f"{r['el_bits'] // 8:,} ({', '.join(str(chroma[p]['el_bytes']) for p in chroma) or '-'}) | "
                     f"{r['el_kbps']:.2f} | {r['psnr_y_el']:.3f} | "
                     f"{r['psnr_y_el'] - r['psnr_y_bl']:+.3f} / {delta(r, 'u')} / {delta(r, 'v')} | "
                     f"{r['yuv_psnr_bl']:.3f} / {r['yuv_psnr_el']:.3f} | "
                     f"{'; '.join([', '.join(r['chosen'])] + [', '.join(c['chosen']) for c in chroma.values()])} | "
                     f"{r['seconds_export']:.0f} ({r['seconds_learning']:.0f}) |")
    lines += ["", "BD-rate of BL+EL against the BL, every byte of the EL counted in each column (PSNR-YUV: (6 Y + U + V) "
              "/ 8); the reference alone: the chosen reference of each plane sent without online learning:", "",
              "| clip | config | BD-rate Y | U | V | YUV 6:1:1 | YUV, the references alone | mean EL bytes | "
              "BD-rate Y, the EL's bytes left out |", "|---|---|---|---|---|---|---|---|---|"]
    for b in summary["bd_rate"]:
        lines.append(f"| {b['clip']} | {b['config'].upper()} | {_fmt(b['bd_rate_y'])} | {_fmt(b.get('bd_rate_u'))} | "
                     f"{_fmt(b.get('bd_rate_v'))} | {_fmt(b['bd_rate_yuv'])} | {_fmt(b.get('bd_rate_yuv_reference'))} | "
                     f"{b['el_bytes_mean']:,.0f} | {_fmt(b.get('bd_rate_y_el_free'))} |")
    if summary.get("tiers"):
        lines += ["", "Per complexity tier (a player takes one): BD-rate Y of BL+EL against the BL with every tier's "
                  "bytes counted (what is sent), and with the tier's own bytes alone (an EL of that tier only):", "",
                  "| clip | config | tier | MAC/px | BD-rate Y, all tiers sent | BD-rate Y, this tier alone | "
                  "its mean bytes | delta PSNR-Y per QP |", "|---|---|---|---|---|---|---|---|"]
        for t in summary["tiers"]:
            lines.append(f"| {t['clip']} | {t['config'].upper()} | {t['tier']} | {t['macs_per_pixel']:,} | "
                         f"{_fmt(t['bd_rate_y'])} | {_fmt(t['bd_rate_y_alone'])} | {t['el_bytes_alone']:,.0f} | "
                         + " / ".join(f"{d:+.3f}" for d in t["delta_psnr_y"]) + " |")
    if summary["ablations"]:
        names = ["MTVIR (RUO choice)", *(n for n in VARIANTS if any(n in a for a in summary["ablations"]))]
        lines += ["", "BD-rate Y against the BL alone of each variant (mean EL bytes in brackets):", "",
                  "| clip | config | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for a in summary["ablations"]:
            cells = [f"{_fmt(a.get(n))} ({a['el_bytes'].get(n, 0):,.0f} B)" for n in names]
            lines.append(f"| {a['clip']} | {a['config'].upper()} | " + " | ".join(cells) + " |")
        steps = [a for a in summary["ablations"] if "online step" in a]
        if steps:
            lines += ["", "Points of BD-rate Y from the online step (the RUO choice less the reference alone) and "
                      "from the reference alone: " + "; ".join(f"{a['clip']} {a['config'].upper()} "
                                                             f"{_fmt(a['online step'], suffix='')} and "
                                                             f"{_fmt(a['reference'], suffix='')}" for a in steps)]
    if summary.get("plots"):
        lines += [""] + [f"![{Path(p).stem}]({Path(p).name})" for p in summary["plots"]]
    return "\n".join(lines) + "\n"


def _machine() -> str:
    import platform
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_implementation()} {platform.python_version()}"


def _write_csv(path: Path, rows: list[dict]) -> None:
    fields = ["clip", "codec", "config", "qp", "frames", "width", "height", "bit_depth", "bl_bits", "el_bits",
              "bl_kbps", "el_kbps", "psnr_y_bl", "psnr_y_el", "psnr_u_bl", "psnr_u_el", "psnr_v_bl", "psnr_v_el",
              "yuv_psnr_bl", "yuv_psnr_el", "seconds_bl",
              "seconds_learning", "seconds_selection", "seconds_export"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
