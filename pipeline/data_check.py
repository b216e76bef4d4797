"""The data a local run reads, found and checked before TFX is imported.

A ``--data-root`` is either a contract folder or a folder of spans
(``span-1/ ... span-N/``, :mod:`pipeline.spans`); with neither flag the
built-in data is generated. Every split file the run will train or evaluate
on is read once (:mod:`msa_data.preflight`), so a bad file, or splits that
share examples, stop the run with one line (``SystemExit``) before any
component runs.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from msa_data import contract, leakage, preflight
from pipeline import configs, spans


def data_root_of(args):
    """The data folder the run will read (None for ``--source``); reads nothing."""
    if args.source:
        return None
    if args.data_root:
        return os.path.abspath(args.data_root)
    return configs.DEFAULT_DATA_ROOT if args.synth_size == "mosi" else \
        configs.DEFAULT_DATA_ROOT.replace("mosi", args.synth_size)


def resolve_data_root(args, console, dims=None):
    """``(data root, the check's summary, span plan or None)``; generates the built-in
    data when no data root was given. Every split file read is checked (:func:`check_files`)."""
    if not args.data_root:
        root = data_root_of(args)
        plan = _span_plan(args, root)
        if contract.missing_splits(root):
            from msa_data import synth

            console.write(f"generating built-in {args.synth_size} data in {root}\n")
            synth.generate(root, size=args.synth_size, seed=0, overwrite=True)
        return root, check_files(root, console, dims, args.allow_overlap), plan
    root = os.path.abspath(args.data_root)
    if not os.path.isdir(root):
        raise SystemExit(f"error: --data-root {root}: no such folder; expected "
                         "train/valid/test .tfrecord files in the data contract, or span "
                         "folders span-1/ ... span-N/")
    plan = _span_plan(args, root)
    if plan is None:
        missing = contract.missing_splits(root)
        if missing:
            raise SystemExit(f"error: --data-root {root}: no file for split(s) {missing}; "
                             "expected <split>.tfrecord* for train, valid and test, or span "
                             "folders span-1/ ... span-N/")
        return root, check_files(root, console, dims, args.allow_overlap), None
    console.write(plan.describe() + "\n")
    checked = [check_files(plan.folder(k), console, dims, args.allow_overlap)
               for k in plan.window]
    if len(checked) > 1:
        _check_window(plan, checked, console, args.allow_overlap)
    return root, merged(checked), plan


def _check_window(plan, checked, console, allow_overlap: bool) -> None:
    """Refuses copies of the evaluated span's test examples in the window's training
    spans (each span's own splits were checked by :func:`check_files`)."""
    trained = {k: summary.keys for k, summary in zip(plan.window, checked)}
    overlaps = leakage.across_spans(trained, checked[-1].keys["test"], plan.span)
    if not overlaps:
        return
    shared = leakage.describe(overlaps)
    if not allow_overlap:
        raise SystemExit(f"error: --span-window {len(plan.window)}: data leaks into span "
                         f"{plan.span}'s test split: {shared}; expected the window's train and "
                         "valid splits to hold none of its test examples (--allow-overlap runs "
                         "anyway and records it)")
    console.write(f"warning: data leaks into span {plan.span}'s test split "
                  f"(--allow-overlap): {shared}\n")
    checked[-1].overlaps.extend(overlaps)


def _span_plan(args, root):
    from pipeline import drift_reference

    # The drift gate's record of the spans it accepted, in this output folder.
    accepted_file = drift_reference.state_file(configs.pipeline_root(
        os.path.abspath(args.output_dir))) if getattr(args, "output_dir", None) else None
    try:
        plan = spans.plan(root, args.span, args.span_window, accepted_file=accepted_file)
    except spans.SpanError as err:
        raise SystemExit(f"error: {err}") from None
    if plan is None and (args.allow_drift or args.drift_threshold or args.no_warm_start):
        flag = "--allow-drift" if args.allow_drift else "--drift-threshold" \
            if args.drift_threshold else "--no-warm-start"
        raise SystemExit(f"error: {flag}: only used with a data root of span folders "
                         f"(span-1/ ... span-N/); {root} holds none")
    return plan


def merged(summaries):
    """One summary for the spans of a window: counts added, frame counts joined."""
    if len(summaries) == 1:
        return summaries[0]
    found = {s: (sum(x.found[s][0] for x in summaries), sum(x.found[s][1] for x in summaries))
             for s in contract.SPLITS}
    frames = {s: {m: np.concatenate([x.frame_counts[s][m] for x in summaries])
                  for m in contract.MODALITIES} for s in contract.SPLITS}
    return preflight.DataRootSummary(found, frames,
                                     [o for x in summaries for o in x.overlaps])


def check_files(root: str, console, dims=None, allow_overlap: bool = False):
    """Reads every split file once, so a bad one stops the run before any component.

    Splits that share segments, contents or videos stop the run too, unless
    ``allow_overlap``: then one warning line, and the summary keeps them for
    ML Metadata. Returns :class:`preflight.DataRootSummary`.
    """

    try:
        summary = preflight.check_data_root(root, dims)
    except preflight.DataFileError as err:
        raise SystemExit(f"error: --data-root: {err}") from None
    if summary.overlaps:
        shared = leakage.describe(summary.overlaps)
        if not allow_overlap:
            raise SystemExit(f"error: --data-root {root}: data leaks between splits: {shared}; "
                             "expected disjoint splits (--allow-overlap runs anyway and "
                             "records it)")
        console.write(f"warning: data leaks between splits (--allow-overlap): {shared}\n")
    console.write("data files checked: " + ", ".join(
        f"{split} {examples} examples" for split, (_, examples) in summary.found.items()) + "\n")
    return summary


def span_config(config, plan, args, console, metadata_path: str, given):
    """``(config, where fixed lengths come from)`` for a run on spans.

    On a new span the Trainer warm-starts from the latest blessed model unless
    ``--no-warm-start`` (a new span refines the model that serves), and keeps
    that model's sequence lengths (its weights' shapes follow them) unless
    ``--max-len`` says otherwise. A rerun of a span does the same (after a
    crash too): the latest blessed model may then be that span's own, and the
    gate decides again whether the refined model is pushed.
    """
    if plan is None or args.no_warm_start:
        return config, given
    from pipeline import span_results

    if not config.warm_start:
        console.write("warm start: from the latest blessed model's weights when there is one "
                      "(the default on a new span; --no-warm-start trains from scratch)\n")
        config = dataclasses.replace(config, warm_start=True)
    lengths = None if given else span_results.blessed_lengths(metadata_path)
    if lengths:
        config = dataclasses.replace(config, max_lens={m: int(lengths[m])
                                                       for m in contract.MODALITIES})
        given = "kept from the latest blessed model, for the warm start"
    return config, given


def serving_data(args):
    """``--serving-data``'s folder (absolute), checked to hold request files; or None."""
    if not getattr(args, "serving_data", None):
        return None
    from msa_data import drift

    folder = os.path.abspath(args.serving_data)
    if not os.path.isdir(folder) or not drift.serving_files(folder):
        raise SystemExit(f"error: --serving-data {folder}: no {drift.SERVING_PATTERN} file; "
                         "expected a folder of tf.Example requests received at serving")
    return folder
