"""Command-line flags shared by the runners (local and Kubeflow).

Both runners build the same pipeline, so their flags are defined once here;
the model and training flags are generated from TrainerConfig's fields
(names, help, choices and defaults), so a new setting is one field.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Optional, Tuple

from msa_data import contract
from msa_data.readers import ReaderError, SourceError, make_reader, parse_source
from pipeline import configs
from trainer.core.config import TrainerConfig


class OneLineArgumentParser(argparse.ArgumentParser):
    """Bad flags get one line saying what to fix (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class _SettingAction(argparse.Action):
    """Stores a TrainerConfig field's value and remembers the flag it came from.

    The flag is what a one-line error names (``--dropout`` if the user typed
    that alias, ``--dropout-rate`` otherwise), and the set of given fields is
    what the Tuner must leave alone.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
        given = dict(getattr(namespace, "given_flags", None) or {})
        given[self.dest] = option_string
        namespace.given_flags = given


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(field, default, seed) -> str:
    if field.type in ("bool", bool):
        return ""
    text = f"default {default}"
    if seed != default:
        text += f"; --preset seed: {seed}"
    return f" ({text})"


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainerConfig field (same name, help and choices), plus the run's own.

    Fields flags default to None: the preset's value applies unless the flag
    is given. Older flag names stay as aliases (``--layers`` for
    ``--n-layers-mod``).
    """
    default, seed = TrainerConfig(), TrainerConfig.from_preset("seed")
    g = p.add_argument_group(
        "model and training (defaults: the 'default' preset; --preset seed changes them)")
    preset = config_fields()["preset"]
    g.add_argument("--preset", choices=preset.metadata["choices"], default="default",
                   help=preset.metadata["help"])
    g.add_argument("--train-steps", type=int, default=None,
                   help=f"optimizer steps (default {configs.TRAIN_STEPS}; --preset seed: "
                   f"{configs.SEED_TRAIN_STEPS}, its 100 epochs on MOSI)")
    for field in config_fields().values():
        meta = field.metadata
        if not meta["flag"]:
            continue
        names = [_flag(field.name)] + [_flag(a) for a in meta["aliases"]]
        help_text = meta["help"] + _default_text(field, getattr(default, field.name),
                                                  getattr(seed, field.name))
        if field.type in ("bool", bool):
            g.add_argument(*names, dest=field.name, action=_SettingAction, nargs=0,
                           const=True, default=None, help=help_text)
        else:
            g.add_argument(*names, dest=field.name, action=_SettingAction, default=None,
                           type=_python_type(field), choices=meta["choices"], help=help_text,
                           metavar=None if meta["choices"] else _python_type(field).__name__.upper())
    g.add_argument("--max-lens", "--max-len", dest="max_lens", action=_SettingAction, type=int,
                   nargs=3, metavar=("TEXT", "AUDIO", "VIDEO"), default=None,
                   help="frames kept per modality (default " +
                   " ".join(str(default.max_lens[m]) for m in contract.MODALITIES) +
                   "; --preset seed: " + " ".join(str(seed.max_lens[m]) for m in
                                                  contract.MODALITIES) + ")")
    g.add_argument("--text-dim", type=int, default=contract.DEFAULT_DIMS["text"],
                   help="300 for GloVe, 768 for BERT features")
    g.add_argument("--tune", action="store_true",
                   help="add TFX's Tuner before the Trainer: a random search over model size, "
                   "layers, learning rate, dropout and fusion options; flags you set are kept")
    g.add_argument("--tune-trials", type=int, default=None,
                   help=f"with --tune: settings tried (default {configs.TUNE_TRIALS}; the first "
                   "is your own)")
    g.add_argument("--tune-steps", type=int, default=None,
                   help="with --tune: optimizer steps per trial (default: the run's "
                   "--train-steps; fewer is cheaper but ranks settings by early progress)")


def config_fields():
    """TrainerConfig's fields by name."""
    return {f.name: f for f in dataclasses.fields(TrainerConfig)}


def _python_type(field):
    return {"int": int, "float": float, "str": str}.get(str(field.type), str)


def train_steps_from(args) -> int:
    """``--train-steps``, or the preset's default budget."""
    if args.train_steps is None:
        return configs.SEED_TRAIN_STEPS if args.preset == "seed" else configs.TRAIN_STEPS
    if args.train_steps < 1:
        raise ValueError(f"--train-steps: expected >= 1, got {args.train_steps}")
    return args.train_steps


def given_fields(args) -> Tuple[str, ...]:
    """The TrainerConfig fields the user set with a flag, in field order."""
    given = getattr(args, "given_flags", None) or {}
    return tuple(name for name in config_fields() if name in given)


def given_lengths_source(args, config) -> Optional[str]:
    """Where fixed sequence lengths come from (``--max-len`` or the seed preset's own), or
    None when they are to be chosen from the data."""
    if "max_lens" in given_fields(args):
        return "--max-len"
    if config.preset == "seed":
        return "the seed preset"
    return None


def tuning_from(args):
    """``(trials, steps_per_trial, fixed_fields)`` for create_pipeline; trials 0 = no Tuner.

    Trials train for ``--tune-steps``, by default the run's own step budget.
    """
    steps = args.tune_steps if args.tune_steps is not None else train_steps_from(args)
    trials = args.tune_trials if args.tune_trials is not None else configs.TUNE_TRIALS
    if not getattr(args, "tune", False):
        for flag, value in (("--tune-trials", args.tune_trials),
                            ("--tune-steps", args.tune_steps)):
            if value is not None:  # silently ignored, it would look like a tuned run
                raise ValueError(f"{flag}: only used with --tune; expected --tune as well, "
                                 "or no tuning flags")
        return 0, steps, ()
    for flag, value in (("tune-trials", trials), ("tune-steps", steps)):
        if value < 1:
            raise ValueError(f"--{flag}: expected >= 1, got {value}")
    return trials, steps, given_fields(args)


def trainer_config_from(args) -> TrainerConfig:
    """TrainerConfig from parsed flags; raises ValueError naming a bad flag."""
    train_steps_from(args)
    overrides = {name: getattr(args, name) for name in given_fields(args)}
    overrides["dims"] = dict(contract.DEFAULT_DIMS, text=args.text_dim)
    if overrides.get("max_lens") is not None:
        overrides["max_lens"] = dict(zip(contract.MODALITIES, overrides["max_lens"]))
    try:
        return TrainerConfig.from_preset(args.preset, **overrides)
    except ValueError as err:
        raise ValueError(_flag_message(str(err), args)) from None


def _flag_message(message: str, args) -> str:
    """'dropout_rate: expected ...' -> '--dropout: expected ...' (the flag the user typed)."""
    field, _, rest = message.partition(":")
    given = getattr(args, "given_flags", None) or {}
    if field == "dims":
        return f"--text-dim:{rest}"
    if field in config_fields() and rest:
        return f"{given.get(field) or _flag(field)}:{rest}"
    return message


def add_source_flags(p: argparse.ArgumentParser) -> None:
    """``--source FORMAT:PATH`` and its options (a downloaded dataset file)."""
    p.add_argument("--source", metavar="FORMAT:PATH",
                   help="instead of --data-root: a downloaded CMU-MOSI/MOSEI file read inside "
                   "the pipeline; FORMAT is mult, mmsa, sdk or msa-h5 (see README)")
    p.add_argument("--source-dataset", choices=("mosi", "mosei"),
                   help="with --source: the dataset, when the file name does not say")
    p.add_argument("--source-unaligned", action="store_true",
                   help="with --source sdk:DIR: keep each modality's own frames")


def inspect_source(source: str, dataset=None, unaligned: bool = False):
    """Opens a ``--source`` file's structure up front, before any pipeline work.

    Returns ``(source, options, dims, summary)``; raises ValueError with one
    line naming the file and what was wrong.
    """

    try:
        fmt, path = parse_source(source)
        # The structure is enough here: ConvertedExampleGen reads the values,
        # so a pickle is not loaded whole twice.
        reader = make_reader(fmt, path, dataset=dataset, unaligned=unaligned,
                             structure_only=True)
        with reader:
            dims, found, counts = dict(reader.dims), reader.dataset, dict(reader.counts)
    except (ReaderError, SourceError) as err:
        raise ValueError(str(err)) from None
    summary = (f"source {fmt} {path}: {found}, "
               + ", ".join(f"{s} {counts[s]}" for s in contract.SPLITS) + " segments, dims "
               + ", ".join(f"{m} {dims[m]}" for m in contract.MODALITIES))
    return f"{fmt}:{path}", {"dataset": found, "unaligned": unaligned}, dims, summary


def beam_args(workers: int) -> list:
    """DirectRunner arguments: in this process (no arguments), or multi_processing.

    TFX builds an sdist of its own source for every Beam component whose
    arguments are non-empty and name no worker dependencies (measured: ~2 s
    and a 52 MB folder left behind in /tmp, per component, five per run),
    so that remote workers can import it. The DirectRunner's workers are
    this process or local processes of this environment and stage nothing.
    One worker therefore passes no arguments (Beam's defaults are in_memory
    and one worker), and multi_processing names this environment's lock as
    the workers' requirements: the DirectRunner ignores it, and TFX then
    skips its build.
    """
    if workers < 1:
        raise ValueError(f"--beam-workers: expected >= 1, got {workers}")
    if workers == 1:
        return []
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}",
            f"--requirements_file={configs.ENVIRONMENT_LOCK}"]


def add_span_flags(p: argparse.ArgumentParser) -> None:
    """Continuous training on a data root of ``span-1/ ... span-N/`` (pipeline/spans.py)."""
    g = p.add_argument_group("data spans (a --data-root of span-1/ ... span-N/ folders), "
                             "drift and skew")
    g.add_argument("--span", type=int, default=None, metavar="K",
                   help="train on span K and evaluate on its test split (default: the latest)")
    g.add_argument("--span-window", type=int, default=1, metavar="W",
                   help="train on the latest W spans up to --span (default 1)")
    g.add_argument("--allow-drift", action="store_true",
                   help="run on when the span drifted from the one before it beyond the "
                   "thresholds (stopped by default, exit 4); the drift is recorded in ML "
                   "Metadata and shown by msa-report")
    g.add_argument("--drift-threshold", action="append", default=[], metavar="NAME=X",
                   help="override the schema's drift threshold of a feature (text_len, label, "
                   "dataset...) or a modality's frame features (text, audio, video); repeatable")
    g.add_argument("--serving-data", metavar="DIR",
                   help="tf.Example requests received at serving (*.tfrecord*, no label): "
                   "compared with the training data; skew is one console line and an anomaly "
                   "in ML Metadata, and never stops the run")
    g.add_argument("--no-warm-start", action="store_true",
                   help="on a data root of spans, train from scratch instead of from the latest "
                   "blessed model's weights (the default there)")


def drift_thresholds_from(texts) -> dict:
    """{name: threshold} from ``--drift-threshold NAME=X`` flags; ValueError names a bad one."""
    from msa_data import drift

    names = (*drift.EXAMPLE_FEATURES, *contract.MODALITIES)
    thresholds = {}
    for text in texts:
        name, _, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if name not in names or not 0 <= number <= 1:
            raise ValueError(f"--drift-threshold {text}: expected NAME=X with NAME one of "
                             f"{', '.join(names)} and X in [0, 1]")
        thresholds[name] = number
    return thresholds


def drift_from(args):
    """:class:`pipeline.spans.DriftSettings` from the flags; ValueError names a bad one."""
    from pipeline.spans import DriftSettings

    thresholds = drift_thresholds_from(args.drift_threshold)
    if args.source and (args.allow_drift or thresholds or args.span is not None
                        or args.span_window != 1):
        raise ValueError("--source: the span flags (--span, --span-window, --allow-drift, "
                         "--drift-threshold) need a --data-root of span folders")
    if args.warm_start and args.no_warm_start:
        raise ValueError("--warm-start and --no-warm-start: expected one of them, found both")
    return DriftSettings(tuple(sorted(thresholds.items())), bool(args.allow_drift))
