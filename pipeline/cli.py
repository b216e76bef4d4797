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


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """Model, training and blessing flags, with TrainerConfig's defaults."""
    from trainer.config import TrainerConfig

    d = TrainerConfig()
    g = p.add_argument_group("model and training")
    g.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--learning-rate", type=float, default=d.learning_rate)
    g.add_argument("--loss", choices=("mae", "mse", "huber"), default=d.loss)
    g.add_argument("--patience", type=int, default=d.early_stopping_patience,
                   help="early-stopping patience (epochs)")
    g.add_argument("--model-dim", type=int, default=d.model_dim)
    g.add_argument("--num-heads", type=int, default=d.num_heads)
    g.add_argument("--ff-dim", type=int, default=d.ff_dim)
    g.add_argument("--layers", type=int, default=d.n_layers_mod,
                   help="transformer layers per modality")
    g.add_argument("--fusion-layers", type=int, default=d.n_layers_fuse)
    g.add_argument("--bidirectional", action="store_true", help="also audio/video <- text")
    g.add_argument("--pooling", choices=("mean", "attention"), default=d.pooling_method)
    g.add_argument("--dropout", type=float, default=d.dropout_rate)
    g.add_argument("--max-len", type=int, nargs=3, metavar=("TEXT", "AUDIO", "VIDEO"),
                   default=tuple(d.max_lens[m] for m in contract.MODALITIES),
                   help="frames kept per modality")
    g.add_argument("--text-dim", type=int, default=contract.DEFAULT_DIMS["text"],
                   help="300 for GloVe, 768 for BERT features")
    g.add_argument("--mixed-precision", default=d.mixed_precision,
                   choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--mae-tolerance", type=float, default=configs.MAE_CHANGE_TOLERANCE,
                   help="how much worse than the last blessed model's MAE is still blessed")


def trainer_config_from(args):
    """TrainerConfig from parsed flags; raises ValueError naming a bad flag."""
    from trainer.config import TrainerConfig

    if args.train_steps < 1:
        raise ValueError(f"--train-steps: expected >= 1, got {args.train_steps}")
    dims = dict(contract.DEFAULT_DIMS, text=args.text_dim)
    return TrainerConfig(
        model_dim=args.model_dim, num_heads=args.num_heads, ff_dim=args.ff_dim,
        n_layers_mod=args.layers, n_layers_fuse=args.fusion_layers,
        bidirectional_fusion=args.bidirectional, pooling_method=args.pooling,
        dropout_rate=args.dropout, dims=dims,
        max_lens=dict(zip(contract.MODALITIES, args.max_len)),
        batch_size=args.batch_size, learning_rate=args.learning_rate, loss=args.loss,
        early_stopping_patience=args.patience, mixed_precision=args.mixed_precision,
        seed=args.seed)


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
        reader = make_reader(fmt, path, dataset=dataset, unaligned=unaligned)
        with reader:
            dims, found, counts = dict(reader.dims), reader.dataset, dict(reader.counts)
    except (ReaderError, SourceError) as err:
        raise ValueError(str(err)) from None
    summary = (f"source {fmt} {path}: {found}, "
               + ", ".join(f"{s} {counts[s]}" for s in contract.SPLITS) + " segments, dims "
               + ", ".join(f"{m} {dims[m]}" for m in contract.MODALITIES))
    return f"{fmt}:{path}", {"dataset": found, "unaligned": unaligned}, dims, summary
