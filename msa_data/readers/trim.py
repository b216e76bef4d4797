"""True lengths: where a padded sequence's real frames are.

Every padded layout pads with all-zero frames, either before the real frames
("front", MulT and msa-tf2) or after them ("end", MMSA). Only the leading
(front) or trailing (end) run of all-zero frames is padding; an all-zero
frame between real frames is a real frame and is kept. A frame holding a
NaN is not an all-zero frame (NaN compares unequal to 0), nor is one
holding -inf.

All functions return views into the source array: nothing is copied or
altered.
"""

from __future__ import annotations

import numpy as np

FRONT = "front"
END = "end"
SIDES = (FRONT, END)


def zero_frames(frames: np.ndarray) -> np.ndarray:
    """Bool ``(len,)``: which frames of a ``(len, dim)`` array are all zero."""
    frames = np.asarray(frames)
    if frames.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    if frames.shape[1] == 0:
        return np.ones(frames.shape[0], dtype=bool)
    return np.all(frames == 0, axis=1)


def leading_padding(frames: np.ndarray) -> int:
    """Number of all-zero frames before the first frame that is not all zero."""
    zero = zero_frames(frames)
    if zero.all():
        return int(zero.size)
    return int(np.argmin(zero))


def trailing_padding(frames: np.ndarray) -> int:
    """Number of all-zero frames after the last frame that is not all zero."""
    zero = zero_frames(frames)
    if zero.all():
        return int(zero.size)
    return int(np.argmin(zero[::-1]))


def true_length(frames: np.ndarray, side: str) -> int:
    """Real frame count of a sequence padded on ``side`` (``front`` or ``end``)."""
    if side == FRONT:
        return int(frames.shape[0]) - leading_padding(frames)
    if side == END:
        return int(frames.shape[0]) - trailing_padding(frames)
    raise ValueError(f"padding side: expected one of {SIDES}, got {side!r}")


def strip_padding(frames: np.ndarray, side: str) -> np.ndarray:
    """The real frames of a sequence zero-padded on ``side`` (a view)."""
    if side == FRONT:
        return frames[leading_padding(frames):]
    if side == END:
        return frames[: frames.shape[0] - trailing_padding(frames)]
    raise ValueError(f"padding side: expected one of {SIDES}, got {side!r}")


def real_frames(frames: np.ndarray, length: int, side: str) -> np.ndarray:
    """The ``length`` real frames of a sequence whose true length is given."""
    if side == FRONT:
        return frames[frames.shape[0] - int(length):]
    if side == END:
        return frames[: int(length)]
    raise ValueError(f"padding side: expected one of {SIDES}, got {side!r}")

