"""The spec every conformance test runs: the pipeline compiled on tiny data, few steps."""

from __future__ import annotations

import os

import kubeflow_runner
from msa_data import synth
from tests.runner_util import REPO

FLAGS = ["--train-steps", "20", "--model-dim", "16", "--num-heads", "2", "--batch-size", "16"]


def compile_spec(path, pipeline_root, data_root, target="kfp"):
    code = kubeflow_runner.main([
        "--target", target, "--image", "registry.example/msa-tfx:test",
        "--pipeline-root", pipeline_root, "--data-root", data_root, "--output", path,
        "--schema-path", os.path.join(REPO, "schema", "schema.pbtxt"), *FLAGS])
    assert code == 0


def tiny_data(root, seed=0):
    synth.generate(root, size="mosi", seed=seed, limit_per_split=40, overwrite=True)
    return root
