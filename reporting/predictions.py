"""Per-example predictions of the evaluated model, from the run's BulkInferrer.

The pipeline's BulkInferrer runs the trained model's ``serving_default`` on
the evaluated split and writes one ``PredictionLog`` per example (the
request holds the serialized raw example, so its label is read from there).
The report reads that tracked ``InferenceResult`` artifact rather than
scoring the split again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from msa_data import contract
from reporting.data import Predictions
from trainer.core.metric_names import MAE

if TYPE_CHECKING:  # importing pipeline.results loads TFX; the CLI imports this early
    from pipeline.results import RunEvaluation


def read_predictions(run_eval: "RunEvaluation") -> Predictions:
    """Labels and scores from ``run_eval``'s InferenceResult; LookupError if it has none."""
    if not run_eval.inference_uri:
        raise LookupError(f"run {run_eval.run_id} has no BulkInferrer output for model "
                          f"{run_eval.model_uri} (a run from before the pipeline had one, or "
                          "it stopped before the BulkInferrer)")
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from trainer.export import SERVING_OUTPUT
    from trainer.metrics import msa_metrics

    files = sorted(tf.io.gfile.glob(os.path.join(run_eval.inference_uri, "*")))
    if not files:
        raise LookupError(f"the BulkInferrer output {run_eval.inference_uri} holds no files")
    compression = "GZIP" if files[0].endswith(".gz") else ""
    serialized, scores = [], []
    for record in tf.data.TFRecordDataset(files, compression_type=compression):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log
        examples = log.request.inputs["examples"].string_val
        values = log.response.outputs[SERVING_OUTPUT].float_val
        if len(examples) != len(values):
            raise LookupError(f"{files[0]}: a PredictionLog holds {len(examples)} examples "
                              f"but {len(values)} scores")
        serialized.extend(examples)
        scores.extend(values)
    if not serialized:
        raise LookupError(f"the BulkInferrer output {run_eval.inference_uri} holds no predictions")
    spec = {contract.LABEL: tf.io.FixedLenFeature([], tf.float32)}
    labels = tf.io.parse_example(tf.constant(serialized), spec)[contract.LABEL].numpy()
    y = labels.astype(np.float64)
    p = np.asarray(scores, dtype=np.float64)
    return Predictions(y, p, msa_metrics.evaluate(y, p)[MAE])
