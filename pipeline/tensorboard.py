"""TensorBoard for a run's training logs (``make tensorboard``).

The Trainer writes its TensorBoard logs into its ModelRun artifact; the
newest one in the output folder's ML Metadata is the latest run's.

    python -m pipeline.tensorboard [--output-dir DIR] [--port 6006] [--print-only]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import List, Optional, Sequence

from pipeline import configs


def latest_logs(output_dir: str) -> str:
    """The newest Trainer's log folder; LookupError naming the folder when there is none."""
    from pipeline import results

    metadata = configs.metadata_path(output_dir)
    if not os.path.exists(metadata):
        raise LookupError(f"no ML Metadata store at {metadata}; run the pipeline first "
                          "(make run) or pass its --output-dir")
    model_run = results.newest_artifact(results.open_store(metadata), "ModelRun")
    if model_run is None:
        raise LookupError(f"no Trainer has run in {output_dir} yet (no ModelRun in {metadata})")
    return model_run.uri


def command(logdir: str, port: Optional[int] = None) -> List[str]:
    """The tensorboard command line for ``logdir`` (this environment's binary)."""
    binary = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.exists(binary):
        binary = "tensorboard"
    return [binary, "--logdir", logdir, *(["--port", str(port)] if port else [])]


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", default=configs.DEFAULT_OUTPUT_DIR)
    p.add_argument("--port", type=int, default=6006)
    p.add_argument("--print-only", action="store_true", help="print the command, do not run it")
    args = p.parse_args(argv)
    # Only MLMD is read here; TensorFlow's C++ start-up lines would bury the command.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        logdir = latest_logs(os.path.abspath(args.output_dir))
    except LookupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    argv_out = command(logdir, args.port)
    print(shlex.join(argv_out), flush=True)
    if args.print_only:
        return 0
    os.execvp(argv_out[0], argv_out)  # serves until Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
