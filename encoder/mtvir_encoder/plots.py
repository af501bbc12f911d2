"""PNG plots of an evaluation: RD curves (PSNR-Y, and per plane with PSNR-YUV where the EL has colour), J of the
luma candidates against training steps, EL size and gain."""
from __future__ import annotations

from pathlib import Path


def _families(row: dict) -> list[str | None]:
    """The learning families whose snapshots a row holds by name (``--adapt auto``: "bias_affine: step ..."), or
    [None] where one family ran."""
    found = {c["name"].split(": ")[0] for g in row["groups"] for c in g["candidates"]
             if c["step"] > 0 and ": step " in c["name"]}
    return sorted(found, key=("bias_affine", "all").index) or [None]


def _per_step(row: dict, family: str | None = None) -> dict[int, dict]:
    """For each training step (of ``family`` only, if given), the coding with the least J summed over groups: J
    (relative to no EL), bytes, gain. Step 0 is the reference alone; "no EL" and the ablations are left out. A group
    whose learning stopped earlier (patience, or a short last segment) counts with its last snapshot's figures at
    the later steps, so that every step sums the same frames. Candidates ranked on the sample and then measured on
    every frame (the winner) count with their sample figures, as the others do: otherwise the curve would step at
    the winner by the difference between the sample and the whole segment."""
    no_el = sum(next(c["J"] for c in g["candidates"] if c["name"] == "no EL") for g in row["groups"])
    per_group = []
    for g in row["groups"]:
        best: dict[int, dict] = {}
        for c in g["candidates"]:
            if "sample_J" in c:
                c = {**c, "J": c["sample_J"], "delta_psnr": c["sample_delta_psnr"]}
            if c["step"] < 0 or c["name"].startswith("ablation"):
                continue
            if family is not None and c["step"] > 0 and not c["name"].startswith(f"{family}: "):
                continue
            if c["step"] not in best or c["J"] < best[c["step"]]["J"]:
                best[c["step"]] = c
        per_group.append((g, best))
    steps: dict[int, dict] = {}
    for step in sorted({s for _, best in per_group for s in best}):
        s = steps[step] = {"J": 0.0, "bytes": 0, "gain": 0.0}
        for g, best in per_group:
            if not best:
                continue
            c = best[max((k for k in best if k <= step), default=min(best))]
            s["J"] += c["J"]
            s["bytes"] += c["bytes"]
            s["gain"] += c["delta_psnr"] * g["frame_count"] / row["frames"]
        s["dJ"] = 100 * (s["J"] / no_el - 1)
    return steps


def draw(rows: list[dict], out_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    curves: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        curves.setdefault((r["clip"], r["config"]), []).append(r)
    for (clip, config), rs in curves.items():
        rs = sorted(rs, key=lambda r: r["qp"])
        colour = all("psnr_u_el" in r for r in rs)
        fig, axes = plt.subplots(1, 4 if colour else 3, figsize=(20 if colour else 15, 4.2))
        ax = axes[0]
        ax.plot([r["bl_kbps"] for r in rs], [r["psnr_y_bl"] for r in rs], "o-", label="BL alone")
        ax.plot([r["bl_kbps"] + r["el_kbps"] for r in rs], [r["psnr_y_el"] for r in rs], "s-", label="BL + EL")
        for r in rs:
            ax.annotate(f"QP {r['qp']}", (r["bl_kbps"], r["psnr_y_bl"]), textcoords="offset points", xytext=(4, -10),
                        fontsize=7)
        ax.set(xlabel="kbit/s (BL payload + EL file)", ylabel="PSNR-Y (dB)",
               title=f"{clip} {rs[0]['codec']} {config.upper()}: rate-distortion")
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax2 = axes[2].twinx()
        for k, r in enumerate(rs):
            families = _families(r)
            for family, marker in zip(families, ("o-", "^--")):  # --adapt auto: biases and affine solid, all dashed
                steps = _per_step(r, family)
                x = list(steps)
                label = f"QP {r['qp']}" + (f" {family}" if len(families) > 1 else "")
                axes[1].plot(x, [steps[s]["dJ"] for s in x], marker, color=f"C{k}", label=label)
                axes[2].plot(x, [steps[s]["gain"] for s in x], marker, color=f"C{k}", label=label)
                ax2.plot(x, [steps[s]["bytes"] for s in x], "x:", color=f"C{k}", alpha=0.7)
        axes[1].axhline(0, color="k", lw=1, label="no EL")
        axes[1].set(xlabel="training steps (0: reference alone)", ylabel="J relative to no EL (%)",
                    title="Lagrangian cost J of the luma candidates")
        axes[2].set(xlabel="training steps (0: reference alone)", ylabel="delta PSNR-Y (dB), solid",
                    title="luma: gain (solid) and model size (dotted)")
        ax2.set_ylabel("EL bytes, dotted")
        for a in axes[1:3]:
            a.grid(True, alpha=0.3)
            a.legend(fontsize=8)
        if colour:  # each plane's and PSNR-YUV's change at the same rates: what the whole picture gains per QP
            ax = axes[3]
            for key, name, style in (("y", "Y", "o-"), ("u", "U", "s--"), ("v", "V", "^--"), ("yuv", "YUV 6:1:1", "D-")):
                el, bl = (f"yuv_psnr_{w}" if key == "yuv" else f"psnr_{key}_{w}" for w in ("el", "bl"))
                ax.plot([r["qp"] for r in rs], [r[el] - r[bl] for r in rs], style, label=name)
            ax.set(xlabel="QP", ylabel="delta PSNR (dB), BL + EL against the BL",
                   title="gain per plane (every EL byte in the left panel's rate)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{clip}_{rs[0]['codec']}_{config}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
