"""Keras (tf_keras / Keras 2) layers and the sequence-level MSA model.

The model is the production port of the "Deep-HOSeq enhancement" research
model: per-modality Transformer encoders, cross-modal attention fusion and
an adaptive, mask-aware fusion head with a scalar regression output.

Everything here is written against the Keras 2 API exposed as ``tf.keras``
when ``TF_USE_LEGACY_KERAS=1``; importing this package sets that variable
(if unset) and refuses to run on Keras 3, whose layer API differs.
"""

from __future__ import annotations

import os

# Must happen before TensorFlow is first imported anywhere in the process.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402

# tf_keras does not set tf.keras.__version__; Keras 3 does ("3.x").
_KERAS_VERSION = str(getattr(tf.keras, "__version__", "2"))
if not _KERAS_VERSION.startswith("2"):
    raise ImportError(
        "trainer.models needs Keras 2 (tf_keras) as tf.keras: set "
        "TF_USE_LEGACY_KERAS=1 before TensorFlow is imported "
        f"(found tf.keras {_KERAS_VERSION})."
    )

from trainer.models.baselines import PooledFusionModel, TextOnlyModel  # noqa: E402
from trainer.models.blocks import CrossAttentionBlock, TransformerBlock  # noqa: E402
from trainer.models.encoder import ModalityEncoder  # noqa: E402
from trainer.models.fusion import AdaptiveFusionHead, CrossModalFusion  # noqa: E402
from trainer.models.msa_seqlevel import MSASeqLevelModel  # noqa: E402
from trainer.models.positional import (  # noqa: E402
    LearnablePositionalEmbedding,
    combine_masks,
    create_look_ahead_mask,
    create_padding_mask,
)
from trainer.models.word_fusion import WordLevelFusion  # noqa: E402

__all__ = [
    "LearnablePositionalEmbedding",
    "create_padding_mask",
    "create_look_ahead_mask",
    "combine_masks",
    "TransformerBlock",
    "CrossAttentionBlock",
    "CrossModalFusion",
    "AdaptiveFusionHead",
    "ModalityEncoder",
    "MSASeqLevelModel",
    "WordLevelFusion",
    "PooledFusionModel",
    "TextOnlyModel",
]
