"""Runs the MSA pipeline on this machine with LocalDagRunner and Beam's DirectRunner.

    python local_runner.py                      # built-in data, default settings
    python local_runner.py --data-root DIR --output-dir OUT --train-steps 500
    python local_runner.py --source mult:/data/mosi_data.pkl   # a downloaded file

Under ``--output-dir``: ``pipeline_root/`` (artifacts), ``metadata.sqlite``
(ML Metadata), ``serving_model/`` (pushed, blessed models) and ``run.log``
(everything the libraries print).

One run at a time per output folder (``.lock``, see pipeline/run_lock.py):
a second run exits with code 3 naming the holder. Ctrl-C or SIGTERM stops
the run with one line (exit 130); the next run resumes from the components
that finished.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline import (
    blessing,
    cli,
    configs,
    data_check,
    local_run,
    output_placement,
    run_lock,
)
from trainer import keras_choice

# Keras 2 (tf_keras) for TFT/TFMA 1.16, set before anything imports TensorFlow;
# Beam worker processes inherit it from the environment.
keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_BUSY = 3


def build_parser() -> argparse.ArgumentParser:
    p = cli.OneLineArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", help="folder with train/valid/test TFRecords in the data "
                   "contract, or with span folders span-1/ ... span-N/ of them (default: "
                   f"generate built-in data in {configs.DEFAULT_DATA_ROOT})")
    p.add_argument("--output-dir", default=configs.DEFAULT_OUTPUT_DIR)
    p.add_argument("--synth-size", choices=("mosi", "mosei"), default="mosi",
                   help="size of the built-in data generated when --data-root is not given")
    p.add_argument("--beam-workers", type=int, default=1,
                   help="DirectRunner multi_processing workers when > 1")
    p.add_argument("--no-cache", action="store_true", help="rerun every component")
    p.add_argument("--allow-overlap", action="store_true",
                   help="run even when splits share segments, contents or videos (data "
                   "leakage); the overlap is recorded in ML Metadata and shown by msa-report")
    p.add_argument("--verbose", action="store_true",
                   help="also show the libraries' logs on the console (always in run.log)")
    cli.add_source_flags(p)
    cli.add_span_flags(p)
    cli.add_training_flags(p)
    blessing.add_evaluation_flags(p)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = local_run.checked_settings(args)
        # before the output folder exists: a refused placement creates nothing
        warning = output_placement.check(args.output_dir, data_check.data_root_of(args))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if warning:
        print(warning, file=sys.stderr)
    output_dir = os.path.abspath(args.output_dir)
    try:
        with run_lock.hold(output_dir) as stale:
            return local_run.run(args, settings, output_dir, stale)
    except KeyboardInterrupt as err:  # before the pipeline started: nothing to resume
        print(f"interrupted ({err or 'SIGINT'}) before the pipeline started; nothing was run",
              file=sys.stderr)
        return local_run.EXIT_INTERRUPTED
    except run_lock.OutputFolderBusy as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BUSY
    except run_lock.OutputFolderUnwritable as err:
        print(f"error: {err.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
