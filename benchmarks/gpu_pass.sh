#!/usr/bin/env bash
# The GPU throughput pass (issue 16) in one command, within 10 minutes on one H100/H200:
#   1. versions and devices;
#   2. profile of a control step (benchmarks/profile_step.py: MJX, flat and rough, batch $BATCH);
#   3. the physics-economy sweep (benchmarks/physics_economy.py: solver iterations / line search /
#      collision set vs MJX steps/s, MJX-vs-C parity and the nominal walk, batch $BATCH);
#   4. MuJoCo Warp (simulation.impl=warp) profiled beside the JAX implementation, if the warp
#      module imports (else the refusal is logged);
#   5. compile time: time to the first evaluation, cold and warm cache (benchmarks/compile_time.py);
#   6. end-to-end Brax PPO training throughput on the terrain suite (preset gpu), capped at
#      $TRAIN_WALL_S s per setting: the old physics (4/8/all) and $ECONOMY (default 4/8/feet, adopted), on all local GPUs.
#
#   OUT=/tmp/gpu_out bash benchmarks/gpu_pass.sh
#   # CPU rehearsal (small sizes, same code paths):
#   OUT=/tmp/gpu_rehearsal BATCH=16 PROFILE_ARGS="--worlds flat" SWEEP_ARGS="--settings 4/8/all 1/5/all --worlds flat \
#     --parity-envs 2 --walk-envs 2 --steps 3" TRAIN_ARGS="--preset ci_tiny" TRAIN_WALL_S=150 COMPILE_PRESET=ci_tiny \
#     COMPILE_ARGS= PROFILE_CAP=400 SWEEP_CAP=600 COMPILE_CAP=400 PY=.venv/bin/python bash benchmarks/gpu_pass.sh
#
# Writes into $OUT: pass.log (everything printed) and results/ (the results files of each step;
# copy them to benchmarks/results/). Each step has its own wall-clock cap, so one slow step
# cannot eat the others' time; the caps add up to under 10 minutes with the defaults.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}
PY=${PY:-python3}
BATCH=${BATCH:-8192}
ECONOMY=${ECONOMY:-4/8/feet}   # the adopted default (issue 16); try 1/5/feet on the GPU
TRAIN_WALL_S=${TRAIN_WALL_S:-110}
TRAIN_ARGS=${TRAIN_ARGS:---preset gpu ppo.num_evals=41}  # 1.25 M env steps between evaluations
COMPILE_PRESET=${COMPILE_PRESET:-gpu}
SWEEP_ARGS=${SWEEP_ARGS:-}
PROFILE_ARGS=${PROFILE_ARGS:-}
COMPILE_ARGS=${COMPILE_ARGS-ppo.num_timesteps=163840 ppo.num_evals=2}  # gpu preset: one training step
PROFILE_CAP=${PROFILE_CAP:-100}; SWEEP_CAP=${SWEEP_CAP:-170}; WARP_CAP=${WARP_CAP:-60}; COMPILE_CAP=${COMPILE_CAP:-150}
RES="$OUT/results"
mkdir -p "$RES"
exec > >(tee -a "$OUT/pass.log") 2>&1
step() { echo "== $(date -u +%FT%TZ) $*"; }

step versions
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import jax, flax, mujoco, brax; from importlib import metadata as m
print('jax', jax.__version__, 'flax', flax.__version__, 'mujoco', mujoco.__version__, 'mjx', m.version('mujoco-mjx'),
      'brax', brax.__version__, 'matmul precision', jax.config.jax_default_matmul_precision); print(jax.devices())" || exit 3

step "profile (cap $PROFILE_CAP s)"
timeout -k 5 "$PROFILE_CAP" $PY -m benchmarks.profile_step --backends mjx --batch "$BATCH" --out "$RES" $PROFILE_ARGS
echo "profile exit $?"

step "physics economy sweep (cap $SWEEP_CAP s)"
timeout -k 5 "$SWEEP_CAP" $PY -m benchmarks.physics_economy --batch "$BATCH" --out "$RES" $SWEEP_ARGS
echo "sweep exit $?"

step "MuJoCo Warp (cap $WARP_CAP s)"
if $PY -c "import warp" 2>/dev/null; then
  timeout -k 5 "$WARP_CAP" $PY - "$BATCH" <<'EOF'
import sys, time, jax, jax.numpy as jnp
from train.config import load_train_config
from mjx_envs.residual_walk import MjxResidualWalk
n = int(sys.argv[1])
for impl in ("jax", "warp"):
    cfg = load_train_config(preset="gpu", overrides=["simulation.world=flat", f"simulation.impl={impl}"])
    env = MjxResidualWalk(cfg.simulation, cfg.env, cfg.gait)
    s = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), n))
    step = jax.jit(jax.vmap(env.step)); a = jnp.zeros((n, env.action_size))
    s = jax.block_until_ready(step(s, a)); t = time.perf_counter()
    for _ in range(20): s = step(s, a)
    jax.block_until_ready(s); print(f"impl={impl}: {20 * n / (time.perf_counter() - t):,.0f} control steps/s at batch {n}")
EOF
  echo "warp exit $?"
else
  $PY -c "from model.simulation_config import SimulationConfig as S; from mjx_envs.backends import check_impl
check_impl(S(impl='warp', backend='mjx'))" 2>&1 | tail -1
fi

step "compile time, cold and warm (cap $COMPILE_CAP s)"
timeout -k 5 "$COMPILE_CAP" $PY -m benchmarks.compile_time --preset "$COMPILE_PRESET" --thresholds 0 --out "$RES" $COMPILE_ARGS
echo "compile exit $?"

for setting in 4/8/all "$ECONOMY"; do
  IFS=/ read -r it ls col <<<"$setting"
  name="train_${it}_${ls}_${col}"
  step "training throughput $setting (cap $TRAIN_WALL_S s)"
  timeout -k 10 "$TRAIN_WALL_S" $PY -m train $TRAIN_ARGS --output-dir /tmp/gpu_runs --name "$name" \
    simulation.solver_iterations="$it" simulation.ls_iterations="$ls" simulation.collision="$col" \
    run.keep_checkpoints=1 run.early_stopping.enabled=false
  echo "training exit $? (124 = stopped at the cap)"
  run=$(ls -1d /tmp/gpu_runs/*_"$name" | tail -n 1)
  cp "$run/progress.jsonl" "$RES/${name}_progress.jsonl" 2>/dev/null
  $PY - "$run" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/progress.jsonl")]
ev = [r for r in rows if r["kind"] == "eval"]
sps = sorted(r["train/logger_sps"] for r in rows if r["kind"] == "train" and "train/logger_sps" in r)
if sps:
    print(f"brax training env steps/s (median of {len(sps)} training logs): {sps[len(sps) // 2]:,.0f}")
if len(ev) >= 3:
    a, b = ev[1], ev[-1]
    print(f"steady training env steps/s: {(b['step'] - a['step']) / (b['time_s'] - a['time_s']):,.0f} "
          f"(evals 1..{len(ev) - 1}); first eval at {ev[0]['time_s']:.0f} s")
else:
    print(f"only {len(ev)} evaluations before the cap: no steady rate")
EOF
done
step done
ls -la "$RES"
