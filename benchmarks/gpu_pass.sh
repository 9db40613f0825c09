#!/usr/bin/env bash
# One GPU pass, as run through the device tool (the lent H100/H200): env throughput, then a
# wall-clock-capped `gpu`-preset training run on rough ground whose checkpoints are judged
# afterwards on a CPU by `python -m benchmarks.time_to_walk --from-run` (and exported to policies/).
#
#   OUT=/tmp/gpu_out THROUGHPUT_WALL_S=170 TRAIN_WALL_S=330 bash benchmarks/gpu_pass.sh
#
# Writes into $OUT: pass.log (everything printed), results/<device>.{json,md,png} (throughput) and
# run.tgz.part-* (the training run directory, split into <= 15 MB pieces: cat them, then untar).
# Killing training at TRAIN_WALL_S is safe: a checkpoint is written at every evaluation.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}
THROUGHPUT_WALL_S=${THROUGHPUT_WALL_S:-170}
TRAIN_WALL_S=${TRAIN_WALL_S:-330}
PY=${PY:-python3}
mkdir -p "$OUT/results"
exec > >(tee -a "$OUT/pass.log") 2>&1

echo "== $(date -u +%FT%TZ) versions"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import jax, flax, optax, orbax.checkpoint, mujoco, brax; from importlib import metadata as m
print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'orbax', m.version('orbax-checkpoint'),
      'mujoco', mujoco.__version__, 'mjx', m.version('mujoco-mjx'), 'brax', brax.__version__); print(jax.devices())" || exit 3

echo "== $(date -u +%FT%TZ) throughput (cap ${THROUGHPUT_WALL_S} s)"
timeout -k 10 "$THROUGHPUT_WALL_S" $PY -m benchmarks.env_throughput --out "$OUT/results" ${THROUGHPUT_ARGS:-}
echo "throughput exit $?"

echo "== $(date -u +%FT%TZ) training (cap ${TRAIN_WALL_S} s)"
RUNS=/tmp/gpu_runs
rm -rf "$RUNS"
timeout -k 15 "$TRAIN_WALL_S" $PY -m train --preset gpu --output-dir "$RUNS" --name gpu_rough \
  run.eval_world=rough run.keep_checkpoints=0 run.early_stopping.enabled=false \
  ppo.num_timesteps=${TRAIN_STEPS:-60000000} ppo.num_evals=${TRAIN_EVALS:-31} ${TRAIN_ARGS:-}
echo "training exit $? (124 = stopped at the wall-clock cap; checkpoints are kept)"

echo "== $(date -u +%FT%TZ) packing"
tar czf /tmp/run.tgz -C "$RUNS" . && split -b 15M /tmp/run.tgz "$OUT/run.tgz.part-" && ls -la "$OUT"
echo "== $(date -u +%FT%TZ) done"
