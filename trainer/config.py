"""Training and model settings carried from the runner to ``run_fn``.

The runner passes them as the Trainer's ``custom_config`` (a JSON dict), so
the same values appear in MLMD and in the compiled Kubeflow pipeline.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping

from msa_data import contract

LOSSES = ("mae", "mse", "huber")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
POOLING = ("mean", "attention")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    # model (MSASeqLevelModel arguments)
    model_dim: int = 64
    num_heads: int = 4
    ff_dim: int = 128
    n_layers_mod: int = 2
    n_layers_fuse: int = 1
    bidirectional_fusion: bool = False
    pooling_method: str = "mean"
    dropout_rate: float = 0.1
    # data shape, shared with Transform
    dims: Dict[str, int] = dataclasses.field(default_factory=lambda: dict(contract.DEFAULT_DIMS))
    max_lens: Dict[str, int] = dataclasses.field(
        default_factory=lambda: {"text": 50, "audio": 50, "video": 50})
    # optimisation
    batch_size: int = 32
    learning_rate: float = 1e-3
    loss: str = "mae"
    early_stopping_patience: int = 8
    mixed_precision: str = "auto"
    seed: int = 0

    def __post_init__(self):
        _check_choice("loss", self.loss, LOSSES)
        _check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _check_choice("pooling_method", self.pooling_method, POOLING)
        for name in ("model_dim", "num_heads", "ff_dim", "n_layers_mod", "n_layers_fuse",
                     "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)!r}")
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim: expected a multiple of num_heads={self.num_heads}, "
                             f"got {self.model_dim}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate: expected a value in [0, 1), got {self.dropout_rate}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate: expected > 0, got {self.learning_rate}")
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

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def model_kwargs(self) -> Dict[str, Any]:
        """Constructor arguments of ``MSASeqLevelModel``."""
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
        )

    def transform_config(self) -> Dict[str, Any]:
        """The subset Transform's preprocessing_fn needs."""
        return {"dims": dict(self.dims), "max_lens": dict(self.max_lens)}


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
