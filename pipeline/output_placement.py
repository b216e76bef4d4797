"""Where an output folder may go, relative to the data it reads.

Checked from paths alone, before the output folder (or anything else) is
created. A folder inside the data root is refused: the run would write its
artifacts among the files it reads, and a folder whose name a split pattern
matches (``DATA/train.tfrecord-outputs``) would be read as a split by
ImportExampleGen on every later run. The data root itself is allowed with a
warning: only ``<split>.tfrecord*`` files are read there, and none of the
run's outputs has such a name.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Optional

from msa_data import contract


def check(output_dir: str, data_root: Optional[str]) -> str:
    """Raises ValueError (one line naming ``--output-dir``) for a refused placement;
    returns a warning line, or ''."""
    name = os.path.basename(os.path.normpath(output_dir))
    for split in contract.SPLITS:
        if fnmatch.fnmatch(name, contract.split_pattern(split)):
            raise ValueError(f"--output-dir {output_dir}: the name {name!r} matches the split "
                             f"pattern {contract.split_pattern(split)!r}; expected a name no "
                             "split pattern matches")
    if not data_root:
        return ""
    out, data = os.path.realpath(output_dir), os.path.realpath(data_root)
    if out == data:
        return (f"warning: --output-dir is the data root {data}; the outputs sit beside the "
                "split files (only <split>.tfrecord* files are read as data)")
    if os.path.commonpath([out, data]) == data:
        raise ValueError(f"--output-dir {output_dir}: inside the data root {data}; expected a "
                         "folder outside it (the run would write among the files it reads)")
    return ""
