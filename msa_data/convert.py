"""msa-convert: a downloaded CMU-MOSI/MOSEI file -> the data contract.

``msa-convert --format {mult,mmsa,sdk,msa-h5} --input PATH --output DIR
[--dataset mosi|mosei] [--unaligned] [--overwrite] [--verbose]``
(or ``python -m msa_data.convert``) writes ``DIR/{train,valid,test}.tfrecord``
(:mod:`msa_data.contract`, ``dataset`` = mosi or mosei) and
``DIR/conversion_report.json`` (:mod:`msa_data.convert_report`). The layouts
are described in :mod:`msa_data.readers`.

Bad input stops with exit code 2 and one line naming the file, the key, what
was expected and what was found (``--verbose`` adds the traceback). Output
goes to a hidden temporary sibling of DIR and is renamed into place only on
success; a non-empty DIR is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
import warnings
from typing import Optional, Sequence

from msa_data import contract
from msa_data.convert_report import REPORT_FILE, ConversionStats
from msa_data.readers import FORMATS, ReaderError, SourceError, make_reader

PROG = "msa-convert"


class ConvertError(ValueError):
    """Bad arguments (output folder, flags)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _check_output(output_dir: str, input_path: str, overwrite: bool) -> None:
    if os.path.lexists(output_dir):
        if not os.path.isdir(output_dir):
            raise ConvertError(f"--output {output_dir}: expected a folder, found a file")
        if os.listdir(output_dir) and not overwrite:
            raise ConvertError(f"--output {output_dir}: expected a new or empty folder, found "
                               "files (pass --overwrite to replace them)")
    inside = os.path.commonpath([output_dir, input_path]) == output_dir
    if inside and overwrite:
        raise ConvertError(f"--output {output_dir}: expected a folder outside the input, "
                           f"found it holds --input {input_path}")


def _make_parents(folder: str) -> Optional[str]:
    """Creates ``folder``'s missing ancestors; returns the topmost one created."""
    top, current = None, folder
    while not os.path.exists(current):
        top, current = current, os.path.dirname(current)
    if top:
        os.makedirs(folder, exist_ok=True)
    return top


def _import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # only TFRecordWriter is used
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf
    return tf


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total or None, disable=not enabled, file=sys.stderr, unit="segment",
                desc=desc, dynamic_ncols=True, mininterval=0.5, leave=True)


def convert(fmt: str, input_path: str, output_dir: str, dataset: Optional[str] = None,
            unaligned: bool = False, overwrite: bool = False, progress: bool = False) -> dict:
    """Converts one source; returns the report. Raises ReaderError/SourceError/ConvertError."""
    from msa_data.synth_io import _install  # replace-by-rename, shared with msa-synth

    input_path = os.path.abspath(os.fspath(input_path))
    output_dir = os.path.abspath(os.fspath(output_dir))
    reader = make_reader(fmt, input_path, dataset=dataset, unaligned=unaligned)
    _check_output(output_dir, input_path, overwrite)
    stats, tmp_dir, created, bar = ConversionStats(), None, None, None
    try:
        reader.open()
        tf = _import_tensorflow()  # only once the input is known to be good

        parent, name = os.path.split(output_dir)
        created = _make_parents(parent)
        tmp_dir = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
        os.chmod(tmp_dir, 0o755)
        bar = _progress(reader.total(), progress, f"{fmt} -> {name}")
        writers = {s: tf.io.TFRecordWriter(contract.split_path(tmp_dir, s))
                   for s in contract.SPLITS}
        try:
            for split, segment in reader:
                example = contract.to_example(segment, reader.dims)
                writers[split].write(example.SerializeToString(deterministic=True))
                stats.add(split, segment)
                bar.update(1)
        finally:
            for writer in writers.values():
                writer.close()
        bar.close()
        report = stats.report(reader, fmt, input_path)
        with open(os.path.join(tmp_dir, REPORT_FILE), "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, sort_keys=True)
            fh.write("\n")
        _install(tmp_dir, output_dir)
        tmp_dir = None
        return report
    except BaseException:
        if bar is not None:
            bar.leave = False
            bar.close()
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        reader.close()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Convert a downloaded CMU-MOSI/MOSEI file (MulT, MMSA, "
                "CMU-MultimodalSDK or msa-tf2 layout) into the data contract.")
    p.add_argument("--format", required=True, metavar="{" + ",".join(FORMATS) + "}",
                   help="layout of --input")
    p.add_argument("--input", required=True, help="the downloaded file (mult, mmsa) or folder "
                   "(sdk, msa-h5)")
    p.add_argument("--output", required=True, help="folder to write (must be new or empty)")
    p.add_argument("--dataset", choices=("mosi", "mosei"), default=None,
                   help="dataset name (default: from the file names, or the folds)")
    p.add_argument("--unaligned", action="store_true",
                   help="sdk only: keep each modality's own frames instead of word-aligning")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--verbose", action="store_true", help="print a traceback on errors")
    return p


def _raise_exit(signum, frame):  # pragma: no cover - signal path
    raise SystemExit(128 + signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: 0 on success, 2 on bad input, 1 on other failures."""
    args = build_parser().parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _raise_exit)  # removes the temp folder
    except ValueError:  # not the main thread
        previous = None
    try:
        report = convert(args.format, args.input, args.output, dataset=args.dataset,
                         unaligned=args.unaligned, overwrite=args.overwrite,
                         progress=not args.no_progress)
    except (ReaderError, SourceError, ConvertError, contract.ContractError) as err:
        if args.verbose:
            traceback.print_exc()
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # I/O and anything unforeseen: still one line
        if args.verbose:
            traceback.print_exc()
        detail = str(err).splitlines()[0] if str(err) else ""
        print(f"{PROG}: error: {type(err).__name__}: {detail}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    out = os.path.abspath(args.output)
    for split in contract.SPLITS:
        print(f"{split}: {report['counts'][split]} segments -> {contract.split_path(out, split)}")
    dims = ", ".join(f"{m} {report['dims'][m]}" for m in contract.MODALITIES)
    print(f"{report['dataset']} ({'aligned' if report['aligned'] else 'unaligned'}), dims {dims}; "
          f"dropped {report['dropped']['count']} -> {os.path.join(out, REPORT_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
