"""Where a trained model loses on built-in unaligned data: the alignment, or the scoring?

Usage (after ``python -m benchmarks.model_quality --unaligned``, which leaves
each run's weights and the transformed data under its work folder)::

    python -m benchmarks.alignment_probe [--work-dir DIR] [--row "default (seq_level)"] [--seed 0]

The built-in unaligned function is known (``msa_data.synth``): a segment's
label is ``sum_t c_t (1 + e_t + g_t)`` plus noise, with ``c_t = <text_t, u>``
and ``e_t``/``g_t`` the audio/video cue of word ``t``. The probe loads the
trained model, runs its learned aligners (``SoftWordAlignment`` or
``SegmentalWordAlignment``) on the transformed train and test splits, and scores linear read-outs
that swap the known function's parts for the model's, one at a time (each
fitted on train, scored on test):

1. the known ``c_t`` and the cue dims of the model's *aligned* frames: what
   the learned alignment makes possible;
2. the known ``c_t`` and the model's own per-word *gates* on those frames;
3. the model's own *word scores* and gates: its word-level path, read linearly.

Where the MAE jumps between rows is where the model loses.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Dict, List

import numpy as np

from msa_data import contract
from msa_data.synth_features import AUDIO_CUE_DIMS, VIDEO_CUE_DIMS, cue_direction
from pipeline import configs
from trainer import keras_choice
from trainer.core import features
from trainer.core.config import TrainerConfig

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work-dir", default=os.path.join(configs.REPO_ROOT, "outputs", "bench-model"))
    p.add_argument("--row", default="default (seq_level)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def load_model(run_dir: str):
    """The trained model of a model_quality run, rebuilt from its saved weights."""
    from trainer.training import keras_model, warm_start

    folder = warm_start.folder_for(os.path.join(run_dir, "serving"))
    with open(os.path.join(folder, warm_start.META_FILE), encoding="utf-8") as f:
        config = TrainerConfig.from_dict(json.load(f)["config"])
    model = keras_model.build_keras_model(config)
    arrays = np.load(os.path.join(folder, warm_start.WEIGHTS_FILE))
    model.set_weights([arrays[k] for k in arrays.files])
    core = next(layer for layer in model.layers if getattr(layer, "aligners", None))
    return core


def split_rows(core, transform_dir: str, data_root: str, split: str) -> np.ndarray:
    """Per segment: label, then the three read-outs' features (see the module doc)."""
    import tensorflow as tf
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(os.path.join(transform_dir, "transform_graph"))
    spec = output.transformed_feature_spec()
    files = tf.io.gfile.glob(os.path.join(transform_dir, "transformed_examples",
                                          f"Split-{split}", "*"))
    raw = {s.segment_id: s for s in contract.read_split(contract.split_path(data_root, split))}
    u = cue_direction(0, contract.DEFAULT_DIMS["text"])
    word_level = core.word_level
    score_kernel = word_level.word_score.kernel.numpy()[:, 0]
    rows: List[list] = []
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(256)
    for records in dataset:
        batch = tf.io.parse_example(records, spec)
        masks = {m: tf.cast(batch[features.mask_key(m)], tf.bool) for m in contract.MODALITIES}
        audio, video = [aligner(batch["text"], batch[m], masks["text"], masks[m])
                        for aligner, m in zip(core.aligners, ("audio", "video"))]
        gates = ((1.0 + word_level.audio_factor(audio)) * (1.0 + word_level.video_factor(video))
                 + word_level.linear_gate(tf.concat([audio, video], -1))).numpy()[..., 0]
        audio, video, text = audio.numpy(), video.numpy(), batch["text"].numpy()
        for i, segment_id in enumerate(batch[contract.SEGMENT_ID].numpy().reshape(-1)):
            segment = raw[segment_id.decode()]
            n = min(len(segment.text), text.shape[1])
            c = segment.text[:n].astype(np.float64) @ u
            cue_a = audio[i, :n][:, list(AUDIO_CUE_DIMS)].mean(axis=1)
            cue_v = video[i, :n][:, list(VIDEO_CUE_DIMS)].mean(axis=1)
            score = text[i, :n] @ score_kernel
            rows.append([segment.label, c.sum(), (c * cue_a).sum(), (c * cue_v).sum(),
                         (c * gates[i, :n]).sum(), (score * gates[i, :n]).sum()])
    return np.asarray(rows, np.float64)


READOUTS = {
    "known c_t, cues of the model's aligned frames": [1, 2, 3],
    "known c_t, the model's gates": [4],
    "the model's word scores and gates": [5],
}


def probe(core, transform_dir: str, data_root: str) -> Dict[str, float]:
    train, test = (split_rows(core, transform_dir, data_root, s) for s in ("train", "test"))
    out = {}
    for name, columns in READOUTS.items():
        design = lambda rows: np.c_[np.ones(len(rows)), rows[:, columns]]  # noqa: E731
        coef = np.linalg.lstsq(design(train), train[:, 0], rcond=None)[0]
        out[name] = float(np.mean(np.abs(design(test) @ coef - test[:, 0])))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    work = os.path.join(os.path.abspath(args.work_dir), "data-mosi-gated-unaligned")
    slug = args.row.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    run_dir = os.path.join(work, "runs", slug, f"seed-{args.seed}")
    transforms = sorted(d for d in os.listdir(work) if d.startswith("transform-"))
    if not os.path.isdir(run_dir) or not transforms:
        raise SystemExit(f"error: {run_dir}: no trained run (run python -m "
                         "benchmarks.model_quality --unaligned first)")
    import tensorflow as tf

    core = load_model(run_dir)
    with open(os.path.join(run_dir, "result.json"), encoding="utf-8") as f:
        model_mae = json.load(f)["metrics"]["mae"]
    results = probe(core, os.path.join(work, transforms[-1]), work)
    for name, mae in results.items():
        print(f"{name:52s} test MAE {mae:.4f}")
    print(f"{'the model itself (serving signature)':52s} test MAE {model_mae:.4f}")
    for aligner, cue_dims in zip(core.aligners, (AUDIO_CUE_DIMS, VIDEO_CUE_DIMS)):
        if hasattr(aligner, "raw_width"):  # soft
            width = float(tf.nn.softplus(aligner.raw_width)) + 1e-3
            print(f"{aligner.name}: learned width {width:.3f} words, shift "
                  f"{float(aligner.shift):+.4f}")
        else:  # segmental
            gap = np.abs(np.diff(aligner.state_means.numpy(), axis=0))[0]
            cue = gap[list(cue_dims)].mean()
            rest = np.delete(gap, list(cue_dims)).mean()
            log_sd = float(tf.nn.softplus(aligner.raw_duration_log_sd)) + 1e-2
            print(f"{aligner.name}: state means apart by {cue:.2f} on the cue features, "
                  f"{rest:.3f} on the others; word durations log-mean "
                  f"{float(aligner.duration_log_mean):+.3f}, log-sd {log_sd:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
