"""Keras (tf_keras / Keras 2) layers and the sequence-level MSA model.

The model is the production port of the "Deep-HOSeq enhancement" research
model: per-modality Transformer encoders, cross-modal attention fusion and
an adaptive, mask-aware fusion head with a scalar regression output.

Everything here is written against the Keras 2 API exposed as ``tf.keras``
(the project's choice, :mod:`trainer.keras_choice`, made when the ``trainer``
package is imported); importing this package refuses to run on Keras 3,
whose layer API differs.
"""

from __future__ import annotations

import tensorflow as tf

from trainer.keras_choice import check_tf_keras

check_tf_keras(tf)

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
from trainer.models.word_context import WordContext  # noqa: E402
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
    "WordContext",
    "WordLevelFusion",
    "PooledFusionModel",
    "TextOnlyModel",
]
