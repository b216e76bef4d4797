"""Command-line flags shared by the runners (local and Kubeflow).

Both runners build the same pipeline, so the model and training flags, and
their defaults (taken from TrainerConfig), are defined once here.
"""

from __future__ import annotations

import argparse

from msa_data import contract
from pipeline import configs


class OneLineArgumentParser(argparse.ArgumentParser):
    """Bad flags get one line saying what to fix (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


# flag -> TrainerConfig field. Flags default to None: the preset's value
# applies unless the flag is given.
TRAINING_FLAGS = {
    "architecture": "architecture", "model_dim": "model_dim", "num_heads": "num_heads",
    "ff_dim": "ff_dim", "layers": "n_layers_mod", "fusion_layers": "n_layers_fuse",
    "bidirectional": "bidirectional_fusion", "pooling": "pooling_method",
    "dropout": "dropout_rate", "shared_positions": "shared_positions",
    "word_fusion": "word_fusion", "word_fusion_channels": "word_fusion_channels",
    "causal": "causal", "batch_size": "batch_size", "optimizer": "optimizer",
    "learning_rate": "learning_rate", "weight_decay": "weight_decay",
    "lr_schedule": "lr_schedule", "warmup_fraction": "warmup_fraction",
    "clip_norm": "clip_norm", "loss": "loss", "patience": "early_stopping_patience",
    "min_delta": "early_stopping_min_delta", "mixed_precision": "mixed_precision",
    "jit_compile": "jit_compile", "seed": "seed", "warm_start": "warm_start",
}


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """Model, training and blessing flags; defaults come from the preset."""
    from trainer.core import config as tc

    d = tc.TrainerConfig()
    g = p.add_argument_group(
        "model and training (defaults: the 'default' preset; --preset seed changes them)")
    g.add_argument("--preset", choices=tuple(tc.PRESETS), default="default",
                   help="default: the settings measured best (make bench-model); seed: the "
                   "msa-tf2 seed model with its training script's defaults")
    g.add_argument("--train-steps", type=int, default=None,
                   help=f"optimizer steps (default {configs.TRAIN_STEPS}; --preset seed: "
                   f"{configs.SEED_TRAIN_STEPS}, its 100 epochs on MOSI)")
    g.add_argument("--architecture", choices=tc.ARCHITECTURES, default=None,
                   help="seq_level (default), or a baseline: pooled (late fusion of pooled "
                   "modalities) or text_only")
    g.add_argument("--batch-size", type=int, default=None, help=f"(default {d.batch_size})")
    g.add_argument("--optimizer", choices=tc.OPTIMIZERS, default=None,
                   help=f"(default {d.optimizer})")
    g.add_argument("--learning-rate", type=float, default=None,
                   help=f"peak learning rate (default {d.learning_rate})")
    g.add_argument("--weight-decay", type=float, default=None,
                   help=f"AdamW decoupled weight decay (default {d.weight_decay})")
    g.add_argument("--lr-schedule", choices=tc.SCHEDULES, default=None,
                   help=f"(default {d.lr_schedule}: warmup, then cosine decay to 0)")
    g.add_argument("--warmup-fraction", type=float, default=None,
                   help=f"share of the steps spent warming up (default {d.warmup_fraction})")
    g.add_argument("--clip-norm", type=float, default=None,
                   help=f"global gradient-norm clipping, 0 = off (default {d.clip_norm})")
    g.add_argument("--loss", choices=tc.LOSSES, default=None, help=f"(default {d.loss})")
    g.add_argument("--patience", type=int, default=None,
                   help=f"early-stopping patience in epochs (default {d.early_stopping_patience})")
    g.add_argument("--min-delta", type=float, default=None,
                   help="smallest validation-loss drop that counts as an improvement "
                   f"(default {d.early_stopping_min_delta})")
    g.add_argument("--model-dim", type=int, default=None, help=f"(default {d.model_dim})")
    g.add_argument("--num-heads", type=int, default=None, help=f"(default {d.num_heads})")
    g.add_argument("--ff-dim", type=int, default=None, help=f"(default {d.ff_dim})")
    g.add_argument("--layers", type=int, default=None,
                   help=f"transformer layers per modality (default {d.n_layers_mod})")
    g.add_argument("--fusion-layers", type=int, default=None,
                   help=f"(default {d.n_layers_fuse})")
    g.add_argument("--bidirectional", action="store_const", const=True, default=None,
                   help="also audio/video <- text")
    g.add_argument("--pooling", choices=tc.POOLING, default=None,
                   help=f"(default {d.pooling_method})")
    g.add_argument("--dropout", type=float, default=None, help=f"(default {d.dropout_rate})")
    g.add_argument("--word-fusion", choices=tc.ALIGNED_OPTION_VALUES, default=None,
                   help="word-level fusion path for word-aligned data; auto: on when the "
                   f"train split is aligned (default {d.word_fusion})")
    g.add_argument("--word-fusion-channels", type=int, default=None,
                   help=f"(default {d.word_fusion_channels})")
    g.add_argument("--shared-positions", choices=tc.ALIGNED_OPTION_VALUES, default=None,
                   help="one positional table for all modalities (word-aligned data; default "
                   f"{d.shared_positions})")
    g.add_argument("--causal", action="store_const", const=True, default=None,
                   help="causal self-attention in the encoders (the seed's look-ahead mask)")
    g.add_argument("--max-len", type=int, nargs=3, metavar=("TEXT", "AUDIO", "VIDEO"),
                   default=None, help="frames kept per modality (default "
                   f"{' '.join(str(d.max_lens[m]) for m in contract.MODALITIES)}; seed: 20 20 20)")
    g.add_argument("--text-dim", type=int, default=contract.DEFAULT_DIMS["text"],
                   help="300 for GloVe, 768 for BERT features")
    g.add_argument("--mixed-precision", default=None, choices=tc.PRECISIONS,
                   help=f"(default {d.mixed_precision}: mixed_float16 on a GPU, else float32)")
    g.add_argument("--jit-compile", default=None, choices=tc.JIT_COMPILE,
                   help="compile the train and validation steps with XLA (default "
                   f"{d.jit_compile}: on only where measured faster, which so far is nowhere: "
                   "on an idle CPU host it is no faster and compiling takes 15-35 s more, "
                   "see make bench-xla; GPUs not measured)")
    g.add_argument("--seed", type=int, default=None, help=f"(default {d.seed})")
    g.add_argument("--warm-start", action="store_const", const=True, default=None,
                   help="start training from the latest blessed model's weights when its "
                   "architecture matches (else one line says so and training starts fresh)")
    g.add_argument("--tune", action="store_true",
                   help="add TFX's Tuner before the Trainer: a random search over model size, "
                   "layers, learning rate, dropout and fusion options; flags you set are kept")
    g.add_argument("--tune-trials", type=int, default=configs.TUNE_TRIALS,
                   help=f"with --tune: settings tried (default {configs.TUNE_TRIALS}; the first "
                   "is your own)")
    g.add_argument("--tune-steps", type=int, default=None,
                   help="with --tune: optimizer steps per trial (default: the run's "
                   "--train-steps; fewer is cheaper but ranks settings by early progress)")
    g.add_argument("--mae-tolerance", type=float, default=configs.MAE_CHANGE_TOLERANCE,
                   help="how much worse than the last blessed model's MAE is still blessed")


def train_steps_from(args) -> int:
    """``--train-steps``, or the preset's default budget."""
    if args.train_steps is None:
        return configs.SEED_TRAIN_STEPS if args.preset == "seed" else configs.TRAIN_STEPS
    if args.train_steps < 1:
        raise ValueError(f"--train-steps: expected >= 1, got {args.train_steps}")
    return args.train_steps


def tuning_from(args):
    """``(trials, steps_per_trial, fixed_fields)`` for create_pipeline; trials 0 = no Tuner.

    Trials train for ``--tune-steps``, by default the run's own step budget.
    """
    steps = args.tune_steps if args.tune_steps is not None else train_steps_from(args)
    if not getattr(args, "tune", False):
        return 0, steps, ()
    for flag, value in (("tune-trials", args.tune_trials), ("tune-steps", steps)):
        if value < 1:
            raise ValueError(f"--{flag}: expected >= 1, got {value}")
    fixed = tuple(field for flag, field in TRAINING_FLAGS.items()
                  if getattr(args, flag, None) is not None)
    return args.tune_trials, steps, fixed


def trainer_config_from(args):
    """TrainerConfig from parsed flags; raises ValueError naming a bad flag."""
    from trainer.core.config import TrainerConfig

    train_steps_from(args)
    overrides = {field: getattr(args, flag) for flag, field in TRAINING_FLAGS.items()
                 if getattr(args, flag) is not None}
    overrides["dims"] = dict(contract.DEFAULT_DIMS, text=args.text_dim)
    if args.max_len is not None:
        overrides["max_lens"] = dict(zip(contract.MODALITIES, args.max_len))
    try:
        return TrainerConfig.from_preset(args.preset, **overrides)
    except ValueError as err:
        raise ValueError(_flag_message(str(err))) from None


def _flag_message(message: str) -> str:
    """'dropout_rate: expected ...' -> '--dropout: expected ...' (the user's words)."""
    field, _, rest = message.partition(":")
    flags = {v: k for k, v in TRAINING_FLAGS.items()}
    flags.update({"max_lens": "max_len", "dims": "text_dim"})
    if field in flags and rest:
        return f"--{flags[field].replace('_', '-')}:{rest}"
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
    from msa_data.readers import ReaderError, SourceError, make_reader, parse_source

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
