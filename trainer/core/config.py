"""Training and model settings carried from the runner to ``run_fn``.

The runner passes them as the Trainer's ``custom_config`` (a JSON dict), so
the same values appear in MLMD and in the compiled Kubeflow pipeline.

Two presets (:data:`PRESETS`): ``default``, the settings measured best on
the built-in data (``make bench-model``), and ``seed``, the msa-tf2 seed
model with its own training script's defaults, kept reproducible.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping

from msa_data import contract

ARCHITECTURES = ("seq_level", "pooled", "text_only")
LOSSES = ("mae", "mse", "huber")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# XLA compilation of the train and validation steps (trainer.training.keras_model.
# resolve_jit_compile): 'auto' is on only where it was measured to pay off,
# which so far is nowhere (see there); 'on' forces it.
JIT_COMPILE = ("auto", "on", "off")
POOLING = ("mean", "attention")
OPTIMIZERS = ("adamw", "adam")
SCHEDULES = ("cosine", "plateau", "constant")
# Options that only make sense on word-aligned data: 'auto' turns them on
# when the train split is aligned (checked by the Trainer), off otherwise.
ALIGNED_OPTION_VALUES = ("auto", "on", "off")
ALIGNED_OPTIONS = ("shared_positions", "word_fusion")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    preset: str = "default"
    architecture: str = "seq_level"
    # model (MSASeqLevelModel arguments; the baselines use what applies)
    model_dim: int = 16
    num_heads: int = 4
    ff_dim: int = 32
    n_layers_mod: int = 1
    n_layers_fuse: int = 1
    bidirectional_fusion: bool = False
    pooling_method: str = "mean"
    dropout_rate: float = 0.5
    shared_positions: str = "off"
    word_fusion: str = "auto"
    word_fusion_channels: int = 1
    causal: bool = False
    # data shape, shared with Transform
    dims: Dict[str, int] = dataclasses.field(default_factory=lambda: dict(contract.DEFAULT_DIMS))
    max_lens: Dict[str, int] = dataclasses.field(
        default_factory=lambda: {"text": 50, "audio": 50, "video": 50})
    # optimisation
    batch_size: int = 32
    optimizer: str = "adamw"
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    lr_schedule: str = "cosine"
    warmup_fraction: float = 0.05
    clip_norm: float = 1.0
    loss: str = "huber"
    early_stopping_patience: int = 20
    early_stopping_min_delta: float = 1e-3
    plateau_factor: float = 0.5
    plateau_patience: int = 7
    min_learning_rate: float = 1e-6
    mixed_precision: str = "auto"
    jit_compile: str = "auto"
    seed: int = 0
    # start from the latest blessed model's weights (trainer/training/warm_start.py)
    warm_start: bool = False

    def __post_init__(self):
        _check_choice("preset", self.preset, PRESETS)
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        _check_choice("loss", self.loss, LOSSES)
        _check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _check_choice("jit_compile", self.jit_compile, JIT_COMPILE)
        _check_choice("pooling_method", self.pooling_method, POOLING)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        for name in ALIGNED_OPTIONS:
            _check_choice(name, getattr(self, name), ALIGNED_OPTION_VALUES)
        for name in ("model_dim", "num_heads", "ff_dim", "n_layers_mod", "n_layers_fuse",
                     "batch_size", "word_fusion_channels", "early_stopping_patience",
                     "plateau_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim: expected a multiple of num_heads={self.num_heads}, "
                             f"got {self.model_dim}")
        _check_range("dropout_rate", self.dropout_rate, 0.0, 1.0, "[0, 1)")
        _check_range("warmup_fraction", self.warmup_fraction, 0.0, 1.0, "[0, 1)")
        _check_range("plateau_factor", self.plateau_factor, 0.0, 1.0, "[0, 1)")
        for name in ("learning_rate",):
            if not _finite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected a number > 0, got {getattr(self, name)!r}")
        for name in ("weight_decay", "clip_norm", "early_stopping_min_delta",
                     "min_learning_rate"):
            if not _finite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name}: expected a number >= 0, got {getattr(self, name)!r}")
        if self.optimizer == "adam" and self.weight_decay:
            raise ValueError("weight_decay: Adam has none; expected 0 or optimizer 'adamw', "
                             f"got {self.weight_decay}")
        for m in contract.MODALITIES:
            if m not in self.max_lens or int(self.max_lens[m]) < 1:
                raise ValueError(f"max_lens: expected a positive length for {m!r}, got {self.max_lens}")
            if m not in self.dims or int(self.dims[m]) < 1:
                raise ValueError(f"dims: expected a positive width for {m!r}, got {self.dims}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainerConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"trainer config: unknown setting(s) {unknown}; known: {sorted(names)}")
        return cls(**values)

    @classmethod
    def from_preset(cls, preset: str = "default", **overrides) -> "TrainerConfig":
        """The preset's settings with ``overrides`` on top."""
        _check_choice("preset", preset, PRESETS)
        return cls(**{**PRESETS[preset], "preset": preset, **overrides})

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def aligned_lengths(self) -> bool:
        """Whether every modality is padded to one length (needed for aligned options)."""
        return len({int(self.max_lens[m]) for m in contract.MODALITIES}) == 1

    def resolve_alignment(self, data_aligned: bool) -> "TrainerConfig":
        """'auto' aligned options -> 'on'/'off' for data that is (not) word-aligned.

        Raises ValueError naming the option when one is 'on' for unaligned data.
        """
        aligned = data_aligned and self.aligned_lengths()
        changes = {}
        for name in ALIGNED_OPTIONS:
            value = getattr(self, name)
            if value == "auto":
                changes[name] = "on" if aligned else "off"
            elif value == "on" and not aligned:
                raise ValueError(
                    f"{name.replace('_', '-')} on: needs word-aligned data (every segment's "
                    "text, audio and video of one length, and one --max-len for all three); "
                    "this data is not; expected auto or off")
        return dataclasses.replace(self, **changes)

    def model_kwargs(self) -> Dict[str, Any]:
        """Constructor arguments of the architecture's model class."""
        for name in ALIGNED_OPTIONS:
            if getattr(self, name) == "auto":
                raise ValueError(f"{name} is 'auto': call resolve_alignment() first")
        if self.architecture == "pooled":
            return dict(hidden_dim=self.model_dim, dropout_rate=self.dropout_rate)
        if self.architecture == "text_only":
            return dict(
                seq_len=int(self.max_lens["text"]), text_dim=int(self.dims["text"]),
                model_dim=self.model_dim, num_heads=self.num_heads, ff_dim=self.ff_dim,
                n_layers=self.n_layers_mod, pooling_method=self.pooling_method,
                dropout_rate=self.dropout_rate, word_scores=self.word_fusion == "on")
        return dict(
            seq_len=tuple(int(self.max_lens[m]) for m in contract.MODALITIES),
            text_dim=int(self.dims["text"]),
            audio_dim=int(self.dims["audio"]),
            video_dim=int(self.dims["video"]),
            model_dim=self.model_dim,
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            n_layers_mod=self.n_layers_mod,
            n_layers_fuse=self.n_layers_fuse,
            bidirectional_fusion=self.bidirectional_fusion,
            pooling_method=self.pooling_method,
            dropout_rate=self.dropout_rate,
            shared_positions=self.shared_positions == "on",
            word_fusion=self.word_fusion == "on",
            word_fusion_channels=self.word_fusion_channels,
            causal=self.causal,
        )

    def transform_config(self) -> Dict[str, Any]:
        """The subset Transform's preprocessing_fn needs."""
        return {"dims": dict(self.dims), "max_lens": dict(self.max_lens)}


# The seed: msa-tf2's sequence-level model with its training script's
# defaults (seq_len 20, 128/256/4 heads, 2 + 1 layers, dropout 0.1, Adam 1e-4,
# MAE, EarlyStopping patience 15 and ReduceLROnPlateau 0.5/7/1e-6 on the
# validation MAE), no alignment-aware options. Its 100-epoch budget is a
# step count: SEED_TRAIN_STEPS_PER_EPOCH x 100 on MOSI (runner default).
SEED_PRESET: Dict[str, Any] = dict(
    architecture="seq_level", model_dim=128, num_heads=4, ff_dim=256, n_layers_mod=2,
    n_layers_fuse=1, bidirectional_fusion=False, pooling_method="mean", dropout_rate=0.1,
    shared_positions="off", word_fusion="off", causal=False,
    max_lens={"text": 20, "audio": 20, "video": 20},
    batch_size=32, optimizer="adam", learning_rate=1e-4, weight_decay=0.0,
    lr_schedule="plateau", warmup_fraction=0.0, clip_norm=0.0, loss="mae",
    early_stopping_patience=15, early_stopping_min_delta=0.0,
    plateau_factor=0.5, plateau_patience=7, min_learning_rate=1e-6,
)
SEED_EPOCHS = 100
PRESETS: Dict[str, Dict[str, Any]] = {"default": {}, "seed": SEED_PRESET}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value == value and abs(value) != float("inf")


def _check_range(name: str, value, low: float, high: float, text: str) -> None:
    if not _finite(value) or not low <= value < high:
        raise ValueError(f"{name}: expected a value in {text}, got {value!r}")


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
