#!/usr/bin/env bash
# One GPU pass for the joystick task (issue 13), as run through the device tool: two short,
# wall-clock-capped `gpu`-preset trainings on the terrain suite with joystick commands and every
# robustness switch on -- plain residuals, then gait modulation (`--preset gpu,modulated`) -- with
# the same seed and the same step budget. Their progress.jsonl files are the learning curves of the
# ablation; the exports are evaluated afterwards on a CPU (`python -m evaluation.evaluate --mode all`).
#
#   OUT=/tmp/gpu_out TRAIN_WALL_S=170 bash benchmarks/gpu_task_pass.sh
#
# Writes into $OUT: pass.log, and per run <name>/{progress.jsonl,config.yaml,export*/,best/}
# (no checkpoints: small enough to come back from the device). Killing a run at TRAIN_WALL_S is
# safe: a checkpoint and its evaluation row are written at every evaluation.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}
TRAIN_WALL_S=${TRAIN_WALL_S:-170}
STEPS=${TRAIN_STEPS:-20000000}
EVALS=${TRAIN_EVALS:-11}
PY=${PY:-python3}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/pass.log") 2>&1

echo "== $(date -u +%FT%TZ) versions"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import jax, mujoco, brax; print('jax', jax.__version__, 'mujoco', mujoco.__version__, 'brax', brax.__version__, jax.devices())" || exit 3

RUNS=/tmp/gpu_runs
rm -rf "$RUNS"
# PARALLEL=1 trains both at once on the one GPU (each gets ~half the throughput, but the minutes
# of XLA compilation overlap; each process may take 45 % of the GPU memory)
if [ "${PARALLEL:-0}" = 1 ]; then export XLA_PYTHON_CLIENT_MEM_FRACTION=0.45; fi
train_one() {
  mode=$1
  preset=gpu; [ "$mode" = modulated ] && preset=gpu,modulated
  echo "== $(date -u +%FT%TZ) training $mode (preset $preset, cap ${TRAIN_WALL_S} s, $STEPS steps)"
  timeout -k 15 "$TRAIN_WALL_S" $PY -m train --preset "$preset" --output-dir "$RUNS" --name "$mode" \
    run.keep_checkpoints=2 run.early_stopping.enabled=false \
    ppo.num_timesteps=$STEPS ppo.num_evals=$EVALS ${TRAIN_ARGS:-}
  echo "training $mode exit $? (124 = stopped at the wall-clock cap; checkpoints are kept)"
  run=$(ls -d "$RUNS"/*"$mode"* 2>/dev/null | head -1)
  if [ -n "$run" ]; then
    if [ ! -d "$run/export" ]; then  # stopped at the cap: export the newest checkpoint
      $PY -m train.export "$run" || echo "export of $run failed"
    fi
    mkdir -p "$OUT/$mode"
    cp -r "$run"/progress.jsonl "$run"/config.yaml "$OUT/$mode/" 2>/dev/null
    for d in "$run"/export* "$run"/best; do [ -d "$d" ] && cp -r "$d" "$OUT/$mode/"; done
    grep '"kind": "eval"' "$run/progress.jsonl" | cut -c1-300
  fi
}
if [ "${PARALLEL:-0}" = 1 ]; then
  train_one residual > "$OUT/residual.log" 2>&1 &
  train_one modulated > "$OUT/modulated.log" 2>&1 &
  wait
  cat "$OUT/residual.log" "$OUT/modulated.log"
else
  for mode in residual modulated; do train_one $mode; done
fi
ls -laR "$OUT" | head -40
echo "== $(date -u +%FT%TZ) done"
