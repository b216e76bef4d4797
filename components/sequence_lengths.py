"""SequenceLengths: Transform's lengths chosen from the statistics, inside the run.

The local runner reads the data before the pipeline starts and chooses each
modality's length from the train split (:mod:`msa_data.lengths`). A
compiled Kubeflow pipeline cannot: its data root is a runtime parameter,
read only in the cluster. There this component applies the same rule to
StatisticsGen's quantile histogram of the train split's ``<modality>_len``
features and hands Transform its settings as a String (Transform's
``custom_config``, a dynamic execution property). The Trainer reads the
lengths back from Transform's output, so the two always agree.

Its log says the lengths and the estimated share of frames they cut, and
warns past :data:`msa_data.lengths.WARN_CUT_SHARE`, as the local console
does.
"""

# No `from __future__ import annotations`: TFX reads these annotations at
# decoration time to build the component spec.
import json
import logging
import os
from typing import Dict, List, Tuple, TypedDict

from tfx import v1 as tfx
from tfx.types import artifact_utils

from msa_data import contract, lengths

# StatisticsGen's quantile histograms need this many buckets for a 99th
# percentile (TFDV's default is 10).
QUANTILE_BUCKETS = 100
TRAIN_SPLIT = "train"
SOURCE = "the train split's statistics, 99th percentile rounded up to 10"


class SequenceLengthsOutputs(TypedDict):
    transform_config: str


class SequenceLengthsError(RuntimeError):
    """A one-line reason why the lengths could not be chosen."""


def statistics_path(statistics_artifact, split: str = TRAIN_SPLIT) -> str:
    """StatisticsGen's binary statistics file of ``split``."""
    return os.path.join(artifact_utils.get_split_uri([statistics_artifact], split),
                        "FeatureStats.pb")


def length_buckets(path: str) -> Dict[str, List[Tuple[float, float, float]]]:
    """``{modality: quantile buckets of <modality>_len}`` from a statistics file."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if not tf.io.gfile.exists(path):
        raise SequenceLengthsError(f"no statistics at {path}")
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
    wanted = {contract.length_key(m): m for m in contract.MODALITIES}
    found = {}
    for dataset in stats.datasets:
        for feature in dataset.features:
            name = ".".join(feature.path.step) or feature.name
            if name not in wanted:
                continue
            for histogram in feature.num_stats.histograms:
                if histogram.type == histogram.QUANTILES:
                    found[wanted[name]] = [(b.low_value, b.high_value, b.sample_count)
                                           for b in histogram.buckets]
    missing = [contract.length_key(m) for m in contract.MODALITIES if m not in found]
    if missing:
        raise SequenceLengthsError(
            f"{path}: no quantile histogram for {', '.join(missing)}; expected StatisticsGen "
            "statistics of contract examples")
    return found


def choose_from_statistics(path: str) -> Tuple[Dict[str, int], Dict[str, float]]:
    """``(max_lens, cut shares)`` by :mod:`msa_data.lengths`' rule, from a statistics file."""
    buckets = length_buckets(path)
    max_lens = {m: lengths.length_for(lengths.quantile_of_buckets(buckets[m]))
                for m in contract.MODALITIES}
    shares = {m: lengths.cut_share_of_buckets(buckets[m], max_lens[m])
              for m in contract.MODALITIES}
    return max_lens, shares


@tfx.dsl.components.component
def SequenceLengths(
    statistics: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleStatistics],
    dims_json: tfx.dsl.components.Parameter[str],
) -> SequenceLengthsOutputs:
    """Transform's ``custom_config`` (dims and lengths) as JSON."""
    max_lens, shares = choose_from_statistics(statistics_path(statistics))
    lines = [lengths.describe(max_lens, shares, SOURCE),
             lengths.warning(max_lens, shares, given=False)]
    for line in filter(None, lines):
        logging.warning("%s", line)
    # Transform reads dims and max_lens; the console lines ride along for the
    # local runner, which prints them after the run.
    return {"transform_config": json.dumps(
        {"dims": json.loads(dims_json), "max_lens": max_lens,
         "console": [line for line in lines if line]}, sort_keys=True)}


def console_lines(transform_config: str) -> List[str]:
    """What :func:`SequenceLengths` said, from its output."""
    return list(json.loads(transform_config).get("console", []))
