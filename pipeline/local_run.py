"""One run of the pipeline on this machine, step by step (``local_runner.py``).

The runner parses the flags and holds the output folder; this module does
the rest, in this order:

1. :func:`checked_settings`: every flag checked, nothing read or imported;
2. :func:`resolve_source` or :func:`pipeline.data_check.resolve_data_root`:
   the data (a contract folder or spans), checked before TFX is imported;
3. :func:`recover`: what an earlier, stopped run left is closed in MLMD;
4. ``create_pipeline`` on LocalDagRunner, under :class:`~pipeline.interrupt.InterruptSignal`
   (a stop becomes one line, :func:`interrupted`);
5. the evaluation summary and where to look next.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import sys
import time
import traceback
from typing import List, Optional, Tuple

from msa_data import leakage, lengths
from pipeline import blessing, cli, configs, data_check, spans, tensorboard
from pipeline import console as console_lib
from pipeline.interrupt import InterruptSignal
from trainer.core.config import TrainerConfig

EXIT_INTERRUPTED = 130


@dataclasses.dataclass(frozen=True)
class Tuning:
    """The Tuner's settings: ``trials`` 0 means no Tuner."""

    trials: int
    steps: int
    fixed: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting the flags give, checked before the output folder is touched."""

    trainer_config: TrainerConfig
    train_steps: int
    tuning: Tuning
    evaluation: blessing.BlessingSettings
    beam: List[str]
    drift: spans.DriftSettings = spans.DriftSettings()


def checked_settings(args) -> Settings:
    """The run's settings from its flags; raises ValueError naming a bad flag.

    Flags only: no file is read and nothing heavy is imported, so a typo is
    answered at once and leaves no output folder behind.
    """
    if args.source and args.data_root:
        raise ValueError("--source and --data-root: expected one of them, found both")
    return Settings(trainer_config=cli.trainer_config_from(args),
                    train_steps=cli.train_steps_from(args), tuning=Tuning(*cli.tuning_from(args)),
                    evaluation=blessing.settings_from(args), beam=cli.beam_args(args.beam_workers),
                    drift=cli.drift_from(args))


RUN_TIME_LENGTHS = ("sequence lengths: chosen from the train split's statistics inside the "
                    "run (--source files are read there); printed when the run ends")


def sequence_lengths(config: TrainerConfig, train_counts, given: Optional[str], console
                     ) -> TrainerConfig:
    """The frames kept per modality: from the train split unless ``given`` (where fixed
    lengths come from: --max-len or the seed preset). Says which, and what they cut; warns
    when a modality loses much."""
    if train_counts is None:  # --source: its files are read inside the pipeline
        console.write((lengths.describe_without_data(config.max_lens, given)
                       if given else RUN_TIME_LENGTHS) + "\n")
        return config
    if given:
        source = given
    else:
        config = dataclasses.replace(config, max_lens=lengths.choose_lengths(train_counts))
        source = (f"the train split's {100 * lengths.QUANTILE:g}th percentile, rounded up to "
                  f"{lengths.ROUND_TO}")
    shares = lengths.cut_shares(train_counts, config.max_lens)
    console.write(lengths.describe(config.max_lens, shares, source) + "\n")
    warning = lengths.warning(config.max_lens, shares, bool(given))
    if warning:
        console.write(warning + "\n")
    return config


def resolve_source(args, console):
    """Checks ``--source`` up front; returns ``(source, options, dims)`` from the reader."""
    try:
        source, options, dims, summary = cli.inspect_source(
            args.source, args.source_dataset, args.source_unaligned)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    console.write(summary + "\n")
    return source, options, dims


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


def report_command(output_dir: str) -> str:
    """The msa-report command for this run, quoted so that it copy-pastes."""
    return shlex.join(["msa-report", "--output-dir", output_dir])


def training_logs_line(output_dir: str) -> str:
    """The command that opens this run's training curves in TensorBoard."""

    try:
        logdir = tensorboard.latest_logs(output_dir)
    except LookupError:
        return ""
    return f"  training curves: {shlex.join(tensorboard.command(logdir))}\n"


def run(args, settings: Settings, output_dir: str, stale) -> int:
    """The run itself, with the output folder held (exit code)."""
    log_path = os.path.join(output_dir, "run.log")

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
            data_root, checked, span_plan = (None, None, None) if source else \
                data_check.resolve_data_root(args, console, config.dims)
            train_counts = checked.frame_counts["train"] if checked else None
            config, given = data_check.span_config(config, span_plan, args, console,
                                                   configs.metadata_path(output_dir),
                                                   cli.given_lengths_source(args, config))
            config = sequence_lengths(config, train_counts, given, console)
            serving = data_check.serving_data(args)
            lengths_at_run_time = train_counts is None and not given
        except SystemExit as err:
            console.write(f"{err}\n")
            if stale:  # the lock it took over still says a run was killed: close its work
                recover(output_dir, stale, console)
            return 2
        interrupt.check()  # a stop swallowed during the data check ends the run here
        recover(output_dir, stale, console)
        from tfx import v1 as tfx

        from components import msa_pusher
        from pipeline import failures, run_notes
        from pipeline.pipeline import create_pipeline

        interrupt.check()
        progress.on_record = interrupt.check  # and at every log line of the pipeline

        console.write(f"pipeline {configs.PIPELINE_NAME}: data {source or data_root}\n"
                      f"outputs {output_dir} (library log: {log_path})\n")
        serving_dir = configs.serving_dir(output_dir)
        served_before = msa_pusher.versions(serving_dir)
        started_at = time.time()
        try:
            pipeline = create_pipeline(
                pipeline_name=configs.PIPELINE_NAME,
                pipeline_root=configs.pipeline_root(output_dir),
                data_root=data_root,
                schema_path=configs.SCHEMA_PATH,
                serving_dir=serving_dir,
                trainer_config=config,
                train_steps=settings.train_steps,
                blessing_settings=settings.evaluation,
                metadata_connection_config=tfx.orchestration.metadata
                .sqlite_metadata_connection_config(configs.metadata_path(output_dir)),
                beam_pipeline_args=settings.beam,
                enable_cache=not args.no_cache,
                source=source,
                source_options=source_options,
                tune_trials=settings.tuning.trials,
                tune_steps=settings.tuning.steps,
                tune_fixed=settings.tuning.fixed,
                lengths_from_statistics=lengths_at_run_time,
                spans=span_plan is not None, span=span_plan and span_plan.span,
                span_window=len(span_plan.window) if span_plan else 1, drift=settings.drift,
                serving_data=serving)
            try:
                tfx.orchestration.LocalDagRunner().run(pipeline)
            finally:
                progress.on_record = None  # from here a stop is handled once, below
                run_notes.record_run(configs.metadata_path(output_dir), started_at,  # what it ran on
                                     checked and leakage.describe(checked.overlaps), span_plan,
                                     sys.exc_info()[1])
            interrupt.check()  # a stop swallowed in the last component
        except (KeyboardInterrupt, Exception) as err:
            logging.error("pipeline stopped:\n%s", traceback.format_exc())
            if interrupt.received or isinstance(err, KeyboardInterrupt):
                return interrupted(interrupt.received or "SIGINT", progress.current,
                                   output_dir, served_before, console)
            console.write(f"error: {failures.failure_reason(err)}\n"
                          f"(full traceback in {log_path}; nothing was pushed)\n")
            return failures.exit_code(err)
        console.write(f"finished in {time.perf_counter() - start:.0f} s\n")
        for line in run_notes.finished_lines(configs.metadata_path(output_dir),
                                             lengths_at_run_time):
            console.write(line + "\n")
        from reporting import report  # the same tables as msa-report

        try:
            console.write(report.summary(report.load(output_dir, predictions=False)))
        except LookupError as err:
            console.write(f"  no evaluation to summarise: {err}\n")
        console.write(f"  charts and all slices: {report_command(output_dir)}\n")
        console.write(training_logs_line(output_dir))
    return 0
