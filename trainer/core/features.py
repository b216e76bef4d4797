"""Names of Transform's outputs, shared by the Trainer, the Evaluator and the report.

For each modality ``m`` Transform writes ``m`` (frames), ``mask_key(m)`` and
``nonfinite_key(m)``; ``LABEL_TRAIN_MEAN`` carries the constant predictor,
and two slice keys are derived for the Evaluator (their definitions are in
:mod:`trainer.transform.preprocessing`):

* ``POLARITY``: one of ``POLARITY_NAMES``, from the label's sign;
* ``TEXT_LEN_BUCKET``: the word count's bucket in ``TEXT_LEN_BUCKETS``.
"""

from __future__ import annotations

from msa_data import contract

DEFAULT_MAX_LENS = {"text": 50, "audio": 50, "video": 50}
LABEL_TRAIN_MEAN = "label_train_mean"
POLARITY = "polarity"
POLARITY_NAMES = ("negative", "neutral", "positive")
TEXT_LEN_BUCKET = "text_len_bucket"
# (name, first, last) word counts, inclusive; None: no upper end.
TEXT_LEN_BUCKETS = (("0", 0, 0), ("1-5", 1, 5), ("6-10", 6, 10), ("11-20", 11, 20),
                    ("21+", 21, None))
# Contract features Transform passes through unchanged (the ids are slice keys).
PASSTHROUGH = (contract.LABEL, contract.SEGMENT_ID, contract.VIDEO_ID, contract.DATASET)


def mask_key(modality: str) -> str:
    return f"{modality}_mask"


def nonfinite_key(modality: str) -> str:
    return f"{modality}_nonfinite"


def model_input_keys() -> tuple:
    """Transformed features the Keras model consumes, in a fixed order."""
    return tuple(contract.MODALITIES) + tuple(mask_key(m) for m in contract.MODALITIES)
