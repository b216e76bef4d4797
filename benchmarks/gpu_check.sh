#!/usr/bin/env bash
# One call on a host with an NVIDIA GPU: sets up the pinned venv (make venv,
# from the lock) and TensorFlow's CUDA libraries (requirements/gpu.txt), then
# runs benchmarks/gpu_check.py: float32 / mixed_float16 / mixed_bfloat16 train
# steps with and without XLA, and the float32 export scored on CPU against the
# GPU-trained model. Arguments go to gpu_check.py (--short: a quick
# correctness run, which also works on CPU; --output FILE: JSON results).
#
#   benchmarks/gpu_check.sh [--short] [--output FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
make -s venv
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi -L
    .venv/bin/python -m pip install --quiet --no-deps -r requirements/gpu.txt
    # TensorFlow 2.16 looks for the pip CUDA libraries on the loader path.
    libs=$(.venv/bin/python -c 'import glob, os, nvidia; print(":".join(sorted(d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib")))))')
    export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    echo "gpu_check: no NVIDIA GPU visible (nvidia-smi); running on CPU" >&2
fi
echo "set-up: $((SECONDS - start)) s"
TF_CPP_MIN_LOG_LEVEL=2 PYTHONWARNINGS=ignore \
    .venv/bin/python -m benchmarks.gpu_check "$@"
echo "gpu_check: $((SECONDS - start)) s in all"
