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

import os

from trainer import keras_choice

# Keras 2 (tf_keras) for TFT/TFMA 1.16, set before anything imports TensorFlow;
# Beam worker processes inherit it from the environment.
keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from msa_data import contract  # noqa: E402
from pipeline import blessing, cli, configs, run_lock  # noqa: E402

EXIT_BUSY = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    p = cli.OneLineArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", help="folder with train/valid/test TFRecords in the data "
                   f"contract (default: generate built-in data in {configs.DEFAULT_DATA_ROOT})")
    p.add_argument("--output-dir", default=configs.DEFAULT_OUTPUT_DIR)
    p.add_argument("--synth-size", choices=("mosi", "mosei"), default="mosi",
                   help="size of the built-in data generated when --data-root is not given")
    p.add_argument("--beam-workers", type=int, default=1,
                   help="DirectRunner multi_processing workers when > 1")
    p.add_argument("--no-cache", action="store_true", help="rerun every component")
    p.add_argument("--verbose", action="store_true",
                   help="also show the libraries' logs on the console (always in run.log)")
    cli.add_source_flags(p)
    cli.add_training_flags(p)
    blessing.add_evaluation_flags(p)
    return p


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting the flags give, checked before the output folder is touched."""

    trainer_config: object  # trainer.core.config.TrainerConfig
    train_steps: int
    tuning: tuple  # (trials, steps per trial, fixed fields): cli.tuning_from
    evaluation: blessing.BlessingSettings
    beam: list


def checked_settings(args) -> Settings:
    """The run's settings from its flags; raises ValueError naming a bad flag.

    Flags only: no file is read and nothing heavy is imported, so a typo is
    answered at once and leaves no output folder behind.
    """
    if args.source and args.data_root:
        raise ValueError("--source and --data-root: expected one of them, found both")
    return Settings(trainer_config=cli.trainer_config_from(args),
                    train_steps=cli.train_steps_from(args), tuning=cli.tuning_from(args),
                    evaluation=blessing.settings_from(args), beam=cli.beam_args(args.beam_workers))


def resolve_data_root(args, console) -> str:
    """The data to run on; generates the built-in data when none was given."""
    if args.data_root:
        root = os.path.abspath(args.data_root)
        if not os.path.isdir(root):
            raise SystemExit(f"error: --data-root {root}: no such folder; expected "
                             "train/valid/test .tfrecord files in the data contract")
        missing = contract.missing_splits(root)
        if missing:
            raise SystemExit(f"error: --data-root {root}: no file for split(s) {missing}; "
                             "expected <split>.tfrecord* for train, valid and test")
        check_files(root, console)
        return root
    root = configs.DEFAULT_DATA_ROOT if args.synth_size == "mosi" else \
        configs.DEFAULT_DATA_ROOT.replace("mosi", args.synth_size)
    if contract.missing_splits(root):
        from msa_data import synth

        console.write(f"generating built-in {args.synth_size} data in {root}\n")
        synth.generate(root, size=args.synth_size, seed=0, overwrite=True)
    return root


def check_files(root: str, console) -> None:
    """Reads every split file once, so a bad one stops the run before any component."""
    from msa_data import preflight

    try:
        found = preflight.check_data_root(root)
    except preflight.DataFileError as err:
        raise SystemExit(f"error: --data-root: {err}") from None
    console.write("data files checked: " + ", ".join(
        f"{split} {examples} examples" for split, (_, examples) in found.items()) + "\n")


def resolve_source(args, console):
    """Checks ``--source`` up front; returns ``(source, options, dims)`` from the reader."""
    try:
        source, options, dims, summary = cli.inspect_source(
            args.source, args.source_dataset, args.source_unaligned)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    console.write(summary + "\n")
    return source, options, dims


class InterruptSignal:
    """Turns SIGINT and SIGTERM into KeyboardInterrupt, and remembers which came.

    The exception can surface as another one (library code that cleans up
    on its way out may raise its own), so the run asks :attr:`received`
    rather than trusting the exception type.
    """

    def __init__(self):
        self.received = None

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name
        raise KeyboardInterrupt(self.received)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = checked_settings(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    output_dir = os.path.abspath(args.output_dir)
    try:
        with run_lock.hold(output_dir) as stale:
            return run(args, settings, output_dir, stale)
    except KeyboardInterrupt as err:  # before the pipeline started: nothing to resume
        print(f"interrupted ({err or 'SIGINT'}) before the pipeline started; nothing was run",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except run_lock.OutputFolderBusy as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BUSY
    except run_lock.OutputFolderUnwritable as err:
        print(f"error: {err.strerror}", file=sys.stderr)
        return 2


def recover(output_dir: str, stale, console) -> None:
    """Says what an earlier, unfinished run left behind, and closes it in MLMD."""
    from pipeline import recovery

    if stale:
        console.write(f"an earlier run (pid {stale.get('pid')}, started "
                      f"{stale.get('started')}) stopped before it finished; resuming from "
                      "the components it completed\n")
    closed = recovery.close_interrupted_executions(
        configs.metadata_path(output_dir), "its run stopped before the component finished")
    if closed:
        console.write(f"marked {len(closed)} unfinished execution(s) of an earlier run as "
                      f"canceled in ML Metadata: {', '.join(closed)}\n")


def interrupted(signame: str, component, output_dir: str, served_before, console) -> int:
    """One line for a stopped run; its unfinished executions are closed in MLMD."""
    from components import msa_pusher
    from pipeline import recovery

    recovery.close_interrupted_executions(configs.metadata_path(output_dir),
                                          f"interrupted ({signame})")
    new = sorted(set(msa_pusher.versions(configs.serving_dir(output_dir))) - set(served_before))
    pushed = f"version {new[-1]} had been pushed, complete" if new else "nothing was pushed"
    console.write(f"interrupted ({signame}) while {component or 'the pipeline'} was running; "
                  f"{pushed}; rerun the same command to resume from the finished "
                  "components\n")
    return EXIT_INTERRUPTED


def training_logs_line(output_dir: str) -> str:
    """The command that opens this run's training curves in TensorBoard."""
    import shlex

    from pipeline import tensorboard

    try:
        logdir = tensorboard.latest_logs(output_dir)
    except LookupError:
        return ""
    return f"  training curves: {shlex.join(tensorboard.command(logdir))}\n"


def run(args, settings: Settings, output_dir: str, stale) -> int:
    """The run itself, with the output folder held."""
    log_path = os.path.join(output_dir, "run.log")
    from pipeline import console as console_lib

    start = time.perf_counter()
    interrupt = InterruptSignal()
    interrupt.install()
    # Everything heavy is imported inside: their import-time warnings go to the log.
    with console_lib.quiet_libraries(log_path, args.verbose) as (console, progress):
        config = settings.trainer_config
        source = source_options = None
        try:  # the data is checked before anything imports TFX
            if args.source:  # the source's dims replace --text-dim and the defaults
                source, source_options, dims = resolve_source(args, console)
                config = dataclasses.replace(config, dims=dims)
            data_root = None if source else resolve_data_root(args, console)
        except SystemExit as err:
            console.write(f"{err}\n")
            if stale:  # the lock it took over still says a run was killed: close its work
                recover(output_dir, stale, console)
            return 2
        recover(output_dir, stale, console)
        from tfx import v1 as tfx

        from components import msa_pusher
        from pipeline import failures
        from pipeline.pipeline import create_pipeline

        console.write(f"pipeline {configs.PIPELINE_NAME}: data {source or data_root}\n"
                      f"outputs {output_dir} (library log: {log_path})\n")
        serving_dir = configs.serving_dir(output_dir)
        served_before = msa_pusher.versions(serving_dir)
        try:
            pipeline = create_pipeline(
                pipeline_name=configs.PIPELINE_NAME,
                pipeline_root=configs.pipeline_root(output_dir),
                data_root=data_root,
                schema_path=configs.SCHEMA_PATH,
                serving_dir=serving_dir,
                trainer_config=config,
                train_steps=settings.train_steps,
                mae_change_tolerance=settings.evaluation.mae_tolerance,
                corr_floor=settings.evaluation.corr_floor,
                min_slice_size=settings.evaluation.min_slice_size,
                metadata_connection_config=tfx.orchestration.metadata
                .sqlite_metadata_connection_config(configs.metadata_path(output_dir)),
                beam_pipeline_args=settings.beam,
                enable_cache=not args.no_cache,
                source=source,
                source_options=source_options,
                **dict(zip(("tune_trials", "tune_steps", "tune_fixed"), settings.tuning)),
            )
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except (KeyboardInterrupt, Exception) as err:
            import logging
            import traceback

            logging.error("pipeline stopped:\n%s", traceback.format_exc())
            if interrupt.received or isinstance(err, KeyboardInterrupt):
                return interrupted(interrupt.received or "SIGINT", progress.current,
                                   output_dir, served_before, console)
            console.write(f"error: {failures.failure_reason(err)}\n"
                          f"(full traceback in {log_path}; nothing was pushed)\n")
            return 1
        console.write(f"finished in {time.perf_counter() - start:.0f} s\n")
        from reporting import report  # the same tables as msa-report

        try:
            console.write(report.summary(report.load(output_dir, predictions=False)))
        except LookupError as err:
            console.write(f"  no evaluation to summarise: {err}\n")
        console.write(f"  charts and all slices: msa-report --output-dir {output_dir}\n")
        console.write(training_logs_line(output_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
