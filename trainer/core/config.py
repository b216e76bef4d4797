"""Training and model settings carried from the runner to ``run_fn``.

The runner passes them as the Trainer's ``custom_config`` (a JSON dict), so
the same values appear in MLMD and in the compiled Kubeflow pipeline.

Each field is declared once, with its help and its check
(:func:`setting`); the runners' flags are generated from the fields
(``pipeline/cli.py``: ``--model-dim`` for ``model_dim``), the presets and
the Tuner's search space name the same fields.

Two presets (:data:`PRESETS`): ``default``, the settings measured best on
the built-in data (``make bench-model``), and ``seed``, the msa-tf2 seed
model with its own training script's defaults, kept reproducible.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Mapping, Optional, Sequence

from msa_data import contract

# Options that only make sense on word-aligned data: 'auto' turns them on
# when the train split is aligned (checked by the Trainer), off otherwise.
ALIGNED_OPTION_VALUES = ("auto", "on", "off")
ALIGNED_OPTIONS = ("shared_positions", "word_fusion", "word_context")
WORD_ALIGNMENTS = ("steps", "soft", "segmental")
WORD_ALIGNMENT_VALUES = ("auto",) + WORD_ALIGNMENTS

# The checks a numeric setting can carry (see setting()).
POSITIVE_INT = "a positive integer"
POSITIVE = "a number > 0"
NON_NEGATIVE = "a number >= 0"
NON_NEGATIVE_INT = "an integer >= 0"
FRACTION = "a value in [0, 1)"


def setting(default: Any, help: str, *, choices: Optional[Sequence[Any]] = None,
            check: Optional[str] = None, aliases: Sequence[str] = (), flag: bool = True):
    """A TrainerConfig field with what the flags and the checks need.

    ``choices``: the allowed values; ``check``: one of POSITIVE_INT, POSITIVE,
    NON_NEGATIVE, FRACTION; ``aliases``: older flag names still accepted;
    ``flag=False``: no generated flag (the runners set it another way).
    """
    metadata = {"help": help, "choices": tuple(choices) if choices else None,
                "check": check, "aliases": tuple(aliases), "flag": flag}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    preset: str = setting(
        "default", "default: the settings measured best (make bench-model); seed: the msa-tf2 "
        "seed model with its training script's defaults", choices=("default", "seed"),
        flag=False)
    architecture: str = setting(
        "seq_level", "seq_level, or a baseline: pooled (late fusion of pooled modalities) or "
        "text_only", choices=("seq_level", "pooled", "text_only"))
    # model (MSASeqLevelModel arguments; the baselines use what applies)
    model_dim: int = setting(16, "width of every encoder and fusion layer", check=POSITIVE_INT)
    num_heads: int = setting(4, "attention heads (model-dim must be a multiple)",
                             check=POSITIVE_INT)
    ff_dim: int = setting(32, "feed-forward width inside each transformer layer",
                          check=POSITIVE_INT)
    n_layers_mod: int = setting(1, "transformer layers per modality", check=POSITIVE_INT,
                                aliases=("layers",))
    n_layers_fuse: int = setting(1, "cross-attention fusion layers", check=POSITIVE_INT,
                                 aliases=("fusion_layers",))
    bidirectional_fusion: bool = setting(False, "also audio/video <- text",
                                         aliases=("bidirectional",))
    pooling_method: str = setting("mean", "how each sequence is pooled",
                                  choices=("mean", "attention"), aliases=("pooling",))
    dropout_rate: float = setting(0.5, "dropout everywhere in the model", check=FRACTION,
                                  aliases=("dropout",))
    shared_positions: str = setting(
        "off", "one positional table for all modalities (word-aligned data)",
        choices=ALIGNED_OPTION_VALUES)
    word_fusion: str = setting(
        "auto", "word-level fusion path: each word's score gated by its own audio and video "
        "frames (see --word-alignment); auto: on", choices=ALIGNED_OPTION_VALUES)
    word_alignment: str = setting(
        "auto", "where the word-level path finds a word's frames: steps (word-aligned data, "
        "step t is word t); for unaligned data soft (learned soft alignment on normalised "
        "time) or segmental (a segmentation of the frames into words, fitted to the frames: "
        "word durations, and a word's frames share its state); auto: steps when the train "
        "split is word-aligned, else segmental",
        choices=WORD_ALIGNMENT_VALUES)
    word_fusion_channels: int = setting(1, "channels of the word-level fusion path",
                                        check=POSITIVE_INT)
    word_context: str = setting(
        "auto", "with word-level fusion: a small convolution over each word's neighbours "
        "multiplies its score (negation, intensifiers); auto: on for word-aligned data, off "
        "for unaligned data (where it cost more than it gave: docs/model.md)",
        choices=ALIGNED_OPTION_VALUES)
    word_path_fit: str = setting(
        "label", "with word-level fusion (seq_level): label: the word-level path is fitted to "
        "the label on its own loss and the sequence-level path to what it leaves (context "
        "is learned on every seed measured: docs/model.md); joint: both fitted together "
        "to the summed prediction", choices=("label", "joint"))
    causal: bool = setting(False, "causal self-attention in the encoders (the seed's "
                           "look-ahead mask)")
    # data shape, shared with Transform (set by --text-dim and --max-lens)
    dims: Dict[str, int] = setting(dict(contract.DEFAULT_DIMS), "feature width per modality",
                                   flag=False)
    max_lens: Dict[str, int] = setting({"text": 50, "audio": 50, "video": 50},
                                       "frames kept per modality", flag=False)
    # optimisation
    batch_size: int = setting(32, "examples per optimizer step", check=POSITIVE_INT)
    optimizer: str = setting("adamw", "adamw (decoupled weight decay) or adam",
                             choices=("adamw", "adam"))
    learning_rate: float = setting(3e-3, "peak learning rate", check=POSITIVE)
    weight_decay: float = setting(1e-4, "AdamW decoupled weight decay (adam: 0)",
                                  check=NON_NEGATIVE)
    lr_schedule: str = setting("cosine", "cosine: warmup, then cosine decay to 0; plateau: "
                               "lower it on a validation plateau; constant",
                               choices=("cosine", "plateau", "constant"))
    warmup_fraction: float = setting(0.05, "share of the steps spent warming up",
                                     check=FRACTION)
    clip_norm: float = setting(1.0, "global gradient-norm clipping, 0 = off", check=NON_NEGATIVE)
    loss: str = setting("huber", "training loss", choices=("mae", "mse", "huber"))
    min_epochs: int = setting(
        40, "a training budget of at least this many passes over the train split, even past "
        "--train-steps (large datasets get only a few passes from a fixed step budget); early "
        "stopping may still end training sooner; 0: exactly --train-steps",
        check=NON_NEGATIVE_INT)
    early_stopping_patience: int = setting(20, "early-stopping patience in epochs",
                                           check=POSITIVE_INT, aliases=("patience",))
    early_stopping_min_delta: float = setting(
        1e-3, "smallest validation-loss drop that counts as an improvement", check=NON_NEGATIVE,
        aliases=("min_delta",))
    plateau_factor: float = setting(0.5, "with --lr-schedule plateau: the learning rate's "
                                    "factor on a plateau", check=FRACTION)
    plateau_patience: int = setting(7, "with --lr-schedule plateau: epochs without improvement "
                                    "before the factor applies", check=POSITIVE_INT)
    min_learning_rate: float = setting(1e-6, "with --lr-schedule plateau: the lowest learning "
                                       "rate", check=NON_NEGATIVE)
    mixed_precision: str = setting(
        "auto", "auto: mixed_float16 on a GPU, else float32",
        choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    # XLA pays off nowhere it was measured (make bench-xla: on an idle CPU host
    # at most 10% faster per step, and compiling costs 15-35 s more than the
    # default budget saves; GPUs not measured), so it is off unless asked for.
    jit_compile: str = setting("off", "compile the train and validation steps with XLA "
                               "(make bench-xla measures whether it pays off)",
                               choices=("on", "off"))
    seed: int = setting(0, "seeds the weights, dropout and the data order")
    warm_start: bool = setting(False, "start training from the latest blessed model's weights "
                               "when its architecture matches (else one line says so and "
                               "training starts fresh)")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check(field, getattr(self, field.name))
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim: expected a multiple of num_heads={self.num_heads}, "
                             f"got {self.model_dim}")
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
        if preset not in PRESETS:
            raise ValueError(f"preset: expected one of {list(PRESETS)}, got {preset!r}")
        return cls(**{**PRESETS[preset], "preset": preset, **overrides})

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def aligned_lengths(self) -> bool:
        """Whether every modality is padded to one length (needed for aligned options)."""
        return len({int(self.max_lens[m]) for m in contract.MODALITIES}) == 1

    def resolve_alignment(self, data_aligned: bool) -> "TrainerConfig":
        """'auto' options -> what suits data that is (not) word-aligned.

        ``shared_positions`` and ``word_context``: on for aligned data, else
        off. ``word_fusion``: on (``word_alignment`` segmental makes it work
        on unaligned data).
        ``word_alignment``: steps for aligned data, else segmental. Raises
        ValueError naming the option when an explicit value needs word-aligned
        data and this data is not.
        """
        aligned = data_aligned and self.aligned_lengths()
        alignment = self.word_alignment
        if alignment == "auto":
            alignment = "steps" if aligned else "segmental"
        changes = {"word_alignment": alignment}
        needs_steps = {"shared_positions": "on", "word_alignment": "steps"}
        if alignment == "steps":
            needs_steps["word_fusion"] = "on"
        for name in ALIGNED_OPTIONS:
            if getattr(self, name) == "auto":
                changes[name] = "on" if aligned or name == "word_fusion" else "off"
        for name, value in needs_steps.items():
            if getattr(self, name) == value and not aligned:
                raise ValueError(
                    f"{name.replace('_', '-')} {value}: needs word-aligned data (every segment's "
                    "text, audio and video of one length, and one --max-len for all three); "
                    "this data is not; expected auto, or "
                    + ("segmental or soft" if name == "word_alignment" else "off"))
        return dataclasses.replace(self, **changes)

    def model_kwargs(self) -> Dict[str, Any]:
        """Constructor arguments of the architecture's model class."""
        for name in ALIGNED_OPTIONS + ("word_alignment",):
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
            word_alignment=self.word_alignment,
            word_context=self.word_context == "on",
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
# The seed trains "up to 100 epochs" (early stopping), at any dataset size.
SEED_EPOCHS = 100
SEED_PRESET: Dict[str, Any] = dict(
    architecture="seq_level", model_dim=128, num_heads=4, ff_dim=256, n_layers_mod=2,
    n_layers_fuse=1, bidirectional_fusion=False, pooling_method="mean", dropout_rate=0.1,
    shared_positions="off", word_fusion="off", word_context="off", causal=False,
    max_lens={"text": 20, "audio": 20, "video": 20},
    batch_size=32, optimizer="adam", learning_rate=1e-4, weight_decay=0.0,
    lr_schedule="plateau", warmup_fraction=0.0, clip_norm=0.0, loss="mae",
    early_stopping_patience=15, early_stopping_min_delta=0.0, min_epochs=SEED_EPOCHS,
    plateau_factor=0.5, plateau_patience=7, min_learning_rate=1e-6,
)
PRESETS: Dict[str, Dict[str, Any]] = {"default": {}, "seed": SEED_PRESET}


def _check(field: dataclasses.Field, value: Any) -> None:
    """Raises ValueError, naming the field, when ``value`` breaks its declared check."""
    choices, check = field.metadata.get("choices"), field.metadata.get("check")
    if choices and (isinstance(value, bool) or value not in choices):
        raise ValueError(f"{field.name}: expected one of {list(choices)}, got {value!r}")
    if field.type in ("bool", bool) and not isinstance(value, bool):
        raise ValueError(f"{field.name}: expected true or false, got {value!r}")
    if not check:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)
    ok = number and {
        POSITIVE_INT: lambda v: isinstance(v, int) and v >= 1,
        POSITIVE: lambda v: v > 0,
        NON_NEGATIVE: lambda v: v >= 0,
        NON_NEGATIVE_INT: lambda v: isinstance(v, int) and v >= 0,
        FRACTION: lambda v: 0 <= v < 1,
    }[check](value)
    if not ok:
        raise ValueError(f"{field.name}: expected {check}, got {value!r}")


def _check_preset(name: str, values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(TrainerConfig)})
    if unknown:
        raise ValueError(f"preset {name!r}: unknown setting(s) {unknown}")


for _name, _values in PRESETS.items():
    _check_preset(_name, _values)
