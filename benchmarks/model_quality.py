"""Model quality: every architecture and preset, several seeds each, one table.

    make bench-model
    python -m benchmarks.model_quality [--seeds 0 1 2] [--rows NAME ...]
        [--size mosi|mosei] [--function gated|flip|context] [--unaligned] [--data-root DIR]
        [--work-dir DIR] [--train-steps N] [--json PATH]

Each row trains through the real code path: the pipeline's Transform code
(:mod:`trainer.transform.standalone`, once per Transform setting) and the
Trainer's ``run_fn``; the raw test split is then scored through the exported
model's ``serving_default`` signature, i.e. what the Pusher ships. Rows are
means and standard deviations over the seeds, shown beside reference rows
(:mod:`benchmarks.reference_rows`): the constant predictor, ridge baselines
and, for the built-in data, the noise floor and the known function's text
part and pooled oracle.

Without ``--data-root`` the built-in data (``msa-synth --size SIZE
--function FUNCTION [--unaligned]``) is generated under the work folder.
Sequence lengths come from the train split as in the local runner
(:mod:`msa_data.lengths`), except for the seed preset's own. Finished runs are
kept there (``runs/<row>/seed-<n>/result.json``) and reused when the same
settings are asked for again, so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import types
import warnings
from typing import Dict, List

import numpy as np

from benchmarks.exit_now import exit_now
from benchmarks.reference_rows import reference_rows
from msa_data import contract, lengths, preflight
from pipeline import configs
from trainer import keras_choice
from trainer.core.config import SEED_EPOCHS, TrainerConfig
from trainer.transform.standalone import transform_splits

keras_choice.use_tf_keras()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

# name -> (preset, overrides of that preset). "default" is what a plain
# `make run` trains; the others are the baselines and ablations beside it.
ROWS: Dict[str, tuple] = {
    "default (seq_level)": ("default", {}),
    "seq_level, no word-level fusion": ("default", {"word_fusion": "off"}),
    "seq_level, no word context": ("default", {"word_context": "off"}),
    "seq_level + shared positions": ("default", {"shared_positions": "on"}),
    "seq_level, soft alignment": ("default", {"word_alignment": "soft"}),
    "pooled": ("default", {"architecture": "pooled"}),
    "text_only": ("default", {"architecture": "text_only"}),
    "text_only, no word scores": ("default", {"architecture": "text_only", "word_fusion": "off"}),
    "seed preset": ("seed", {}),
}
# Rows for unaligned data only (the default resolves to steps on aligned data,
# where an aligner has nothing to find): trained when named in --rows.
UNALIGNED_ROWS = ("seq_level, soft alignment",)
METRICS = ("mae", "corr", "acc2_non0", "acc7")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rows", nargs="+", choices=list(ROWS), metavar="ROW",
                   default=[r for r in ROWS if r not in UNALIGNED_ROWS],
                   help=f"rows to train (default: all but {', '.join(UNALIGNED_ROWS)}): "
                   f"{', '.join(ROWS)}")
    p.add_argument("--size", choices=("mosi", "mosei"), default="mosi")
    p.add_argument("--function", choices=("gated", "flip", "context"), default="gated",
                   help="built-in data's sentiment function (msa-synth --function)")
    p.add_argument("--unaligned", action="store_true",
                   help="built-in data with audio and video at their own frame rates "
                   "(msa-synth --unaligned)")
    p.add_argument("--data-root", help="contract TFRecords to use instead of built-in data")
    p.add_argument("--work-dir", default=os.path.join(configs.REPO_ROOT, "outputs", "bench-model"))
    p.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS,
                   help="step budget of the default-preset rows (the seed preset trains "
                   f"its own {100} epochs)")
    p.add_argument("--json", help="result file (default: WORK_DIR/<data>/model_quality.json)")
    return p.parse_args(argv)


def prepare_data(args) -> str:
    if args.data_root:
        if contract.missing_splits(args.data_root):
            raise SystemExit(f"error: --data-root {args.data_root}: expected train/valid/test "
                             "TFRecords in the data contract")
        return os.path.abspath(args.data_root)
    layout = "-unaligned" if args.unaligned else ""
    root = os.path.join(os.path.abspath(args.work_dir), f"data-{args.size}-{args.function}{layout}")
    if contract.missing_splits(root):
        from msa_data import synth

        print(f"generating built-in data ({args.size}, function {args.function}{layout}) in "
              f"{root}", flush=True)
        synth.generate(root, size=args.size, function=args.function, overwrite=True,
                       unaligned=args.unaligned)
    return root


def score_test_split(serving_dir: str, data_root: str):
    """Labels and the exported serving_default's scores on the raw test split."""
    import tensorflow as tf

    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    labels, scores, batch = [], [], []

    def flush():
        out = serve(examples=tf.constant(batch))["sentiment"].numpy()[:, 0]
        scores.extend(out.tolist())
        batch.clear()

    for segment in contract.read_split(os.path.join(data_root, contract.split_pattern("test"))):
        example = contract.to_example(segment)
        del example.features.feature[contract.LABEL]
        batch.append(example.SerializeToString())
        labels.append(segment.label)
        if len(batch) == 256:
            flush()
    if batch:
        flush()
    return np.asarray(labels), np.asarray(scores)


def train_once(name: str, config, data_root: str, transformed: dict, train_steps: int,
               run_dir: str) -> dict:
    """run_fn on the transformed data, then the serving model on the raw test split."""
    import tensorflow as tf

    from trainer import task
    from trainer.metrics import msa_metrics

    result_path = os.path.join(run_dir, "result.json")
    settings = {"config": config.to_dict(), "train_steps": train_steps, "data_root": data_root}
    if os.path.exists(result_path):
        with open(result_path, encoding="utf-8") as f:
            previous = json.load(f)
        if previous.get("settings") == settings:
            return previous
    fn_args = types.SimpleNamespace(
        train_files=[transformed["train"]], eval_files=[transformed["valid"]],
        transform_output=transformed["transform_graph"],
        serving_model_dir=os.path.join(run_dir, "serving"),
        model_run_dir=os.path.join(run_dir, "model_run"),
        train_steps=train_steps, custom_config=config.to_dict(),
        # what TFX also passes run_fn: no Tuner result, no warm-start base
        hyperparameters=None, base_model=None)
    started = time.perf_counter()
    task.run_fn(fn_args)
    wall = time.perf_counter() - started
    with open(os.path.join(fn_args.model_run_dir, task.SUMMARY_FILE), encoding="utf-8") as f:
        summary = json.load(f)
    labels, scores = score_test_split(fn_args.serving_model_dir, data_root)
    metrics = msa_metrics.evaluate(labels, scores)
    result = {
        "row": name, "seed": config.seed, "settings": settings,
        "metrics": {k: float(metrics[k]) for k in METRICS},
        "train_seconds": summary["train_seconds"], "run_fn_seconds": round(wall, 1),
        "epochs_run": summary["epochs_run"], "best_epoch": summary["best_epoch"],
        "parameters": summary["parameters"], "resolved_config": summary["config"],
    }
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    tf.keras.backend.clear_session()
    return result


def summarise(name: str, runs: List[dict]) -> dict:
    out = {"row": name, "seeds": [r["seed"] for r in runs], "runs": runs}
    for key in METRICS:
        values = np.array([r["metrics"][key] for r in runs])
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))
                    if len(values) > 1 else 0.0}
    out["train_seconds"] = float(np.mean([r["train_seconds"] for r in runs]))
    out["parameters"] = runs[0]["parameters"]
    return out


def format_table(rows: List[dict], references: List[dict]) -> str:
    lines = [f"{'row':<40} {'seeds':>5} {'test MAE':>17} {'corr':>7} {'Acc-2':>6} "
             f"{'Acc-7':>6} {'train s':>8} {'params':>8}"]
    for r in rows:
        lines.append(
            f"{r['row']:<40} {len(r['seeds']):>5} "
            f"{r['mae']['mean']:>8.4f} ± {r['mae']['std']:<6.4f} {r['corr']['mean']:>7.3f} "
            f"{100 * r['acc2_non0']['mean']:>6.1f} {100 * r['acc7']['mean']:>6.1f} "
            f"{r['train_seconds']:>8.0f} {r['parameters']:>8d}")
    lines.append("reference rows (no training; test MAE):")
    for ref in references:
        lines.append(f"  {ref['name']:<58} {ref['test_mae']:.4f}   ({ref['source']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from trainer.training import data

    data_root = prepare_data(args)
    label = os.path.basename(data_root.rstrip("/"))
    work = os.path.join(os.path.abspath(args.work_dir), label)
    references = reference_rows(data_root)
    n_train = sum(1 for _ in contract.read_split(
        os.path.join(data_root, contract.split_pattern("train"))))
    dims = dict(contract.DEFAULT_DIMS)
    max_lens = lengths.choose_lengths(preflight.check_data_root(data_root).frame_counts["train"])
    print(f"sequence lengths from the train split: {max_lens}", flush=True)

    summaries = []
    for name in args.rows:
        preset, overrides = ROWS[name]
        runs = []
        for seed in args.seeds:
            chosen = {} if preset == "seed" else {"max_lens": max_lens}
            config = TrainerConfig.from_preset(preset, **{**chosen, **overrides}, dims=dims,
                                               seed=seed)
            steps = args.train_steps
            if preset == "seed":
                steps = SEED_EPOCHS * data.steps_plan(n_train, config.batch_size, 10**9)[0]
            lens = "-".join(str(config.max_lens[m]) for m in contract.MODALITIES)
            transformed = transform_splits(data_root, os.path.join(work, f"transform-{lens}"),
                                           config.transform_config())
            slug = name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
            run = train_once(name, config, data_root, transformed, steps,
                             os.path.join(work, "runs", slug, f"seed-{seed}"))
            print(f"{name} seed {seed}: test MAE {run['metrics']['mae']:.4f}, corr "
                  f"{run['metrics']['corr']:.3f}, {run['epochs_run']} epochs "
                  f"(best {run['best_epoch']}), train {run['train_seconds']:.0f} s", flush=True)
            runs.append(run)
        summaries.append(summarise(name, runs))

    table = format_table(summaries, references)
    print(f"\ndata: {data_root} ({n_train} train segments)")
    print(table)
    by_name = {s["row"]: s for s in summaries}
    if "default (seq_level)" in by_name and "pooled" in by_name:
        ratio = by_name["default (seq_level)"]["mae"]["mean"] / by_name["pooled"]["mae"]["mean"]
        print(f"default vs pooled: {100 * (1 - ratio):.1f}% lower test MAE")
    path = args.json or os.path.join(work, "model_quality.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"data_root": data_root, "train_segments": n_train, "seeds": args.seeds,
                   "train_steps": args.train_steps, "rows": summaries,
                   "reference": references}, f, indent=2)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    # The results are written; TensorFlow's teardown after Beam (Transform)
    # and training segfaulted here (exit 139, seen twice on this host).
    exit_now(main())
