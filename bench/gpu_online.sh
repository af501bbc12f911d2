#!/usr/bin/env bash
# Online learning on a GPU at many more steps than the CPU default (issue 16: can the online step add as much as the
# reference alone?). Every point of a carphone evaluation at once, one process each, sharing the GPU and the cores;
# each point's learning bounded by wall-clock seconds, so the run ends on time whatever a step costs there.
#
#   bash bench/gpu_online.sh OUT [SECONDS] [SNAPSHOT_EVERY] [DEVICE]
#
# Writes OUT/points.tar.gz (each point's cached row, every candidate's J) and OUT/log. Assemble the BD-rates on any
# machine: tar xzf OUT/points.tar.gz -C runs/gpu && mtvir-eval carphone -o runs/gpu/all --device DEVICE
# --iterations 100000 --snapshot-every SNAPSHOT_EVERY --patience 0 --seconds SECONDS (every point is then cached).
# POINTS="ra:27 ai:27": only these points (default: RA and AI at QP 22-37); FRAMES=N: only the first N frames (a
# quick check of the script). On a machine without the packages installed (PyAV, constriction, scikit-video), put
# them on PYTHONPATH first, e.g. their wheels installed with pip install --target.
set -u
out=${1:?OUT folder}
seconds=${2:-200}
every=${3:-500}
device=${4:-cuda}
points=${POINTS:-ra:22 ra:27 ra:32 ra:37 ai:22 ai:27 ai:32 ai:37}
count=$(wc -w <<< "$points")
threads=$(( $(nproc) / count > 0 ? $(nproc) / count : 1 ))
work=$(mktemp -d)
export PYTHONPATH="$PWD/decoder_sdk:$PWD/encoder${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$out"
eval_cmd() { python3 -c 'import sys; from mtvir_encoder.cli import eval_main; sys.exit(eval_main())' "$@"; }

{
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  python3 -c 'import torch, onnxruntime, av, numpy; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
"ort", onnxruntime.__version__, "av", av.__version__, "numpy", numpy.__version__)'
  echo "smoke: 8 frames, 20 steps"
  eval_cmd carphone --config ra --qps 37 --frames 8 --iterations 20 --snapshot-every 10 --device "$device" \
    -o "$work/smoke" -q || { echo "smoke failed"; exit 1; }
  echo "$count points at once, $threads threads each, learning bounded by $seconds s, snapshots every $every steps"
  for point in $points; do
    config=${point%:*} qp=${point#*:}
    eval_cmd carphone --config "$config" --qps "$qp" --iterations 100000 --snapshot-every "$every" --patience 0 \
      --seconds "$seconds" --device "$device" --threads "$threads" ${FRAMES:+--frames "$FRAMES"} \
      -o "$work/$config$qp" -q > "$work/$config$qp.log" 2>&1 &
  done
  wait
  for f in "$work"/*.log; do echo "== $(basename "$f")"; tail -4 "$f"; done
  mkdir -p "$work/cache"
  cp "$work"/{ra,ai}*/cache/*.json "$work/cache/"
  tar czf "$out/points.tar.gz" -C "$work" cache
  python3 - "$work/cache" <<'EOF'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    r = json.loads(f.read_text())
    g = r["groups"][0]
    steps = max((c["step"] for c in g["candidates"]), default=0)
    print(f"{r['config']} QP {r['qp']}: {r['psnr_y_el'] - r['psnr_y_bl']:+.3f} dB, EL {r['el_bits'] // 8} B, "
          f"chosen {r['chosen']}, learned to step {steps} in {r['seconds_learning']:.0f} s "
          f"(+{r['seconds_selection']:.0f} s judging)")
EOF
} 2>&1 | tee "$out/log"
