"""A small dataset whose label needs a same-step interaction of the modalities."""

from __future__ import annotations

import numpy as np

L = 10


DIMS = {"text": 12, "audio": 6, "video": 4}


def make_split(rng, n, u):
    lengths = rng.integers(4, L + 1, size=n)
    mask = np.arange(L)[None, :] < lengths[:, None]
    text = rng.normal(0.0, 0.5, size=(n, L, DIMS["text"]))
    text -= (text @ u)[..., None] * u  # noise orthogonal to u
    c = np.zeros((n, L))
    for i, length in enumerate(lengths):
        pos = rng.choice(length, size=2, replace=False)
        c[i, pos] = rng.normal(0.0, 1.0, size=2)
    text += c[..., None] * u
    cue = rng.random((n, L)) < 0.5
    audio = rng.normal(size=(n, L, DIMS["audio"]))
    audio[..., :2] = np.where(cue, 2.0, -2.0)[..., None] + 0.1 * rng.normal(size=(n, L, 2))
    video = rng.normal(size=(n, L, DIMS["video"]))
    label = (c * np.where(cue, 1.0, -1.0)).sum(axis=1) + rng.normal(0.0, 0.1, size=n)
    features = {"text": text, "audio": audio, "video": video}
    features = {k: (v * mask[..., None]).astype("float32") for k, v in features.items()}
    for m in DIMS:
        features[f"{m}_mask"] = mask.astype("int64")
    return features, label.astype("float32")


# Unaligned: audio and video at their own rates (msa_data.synth_unaligned's
# timing), padded to these many frames.
UNALIGNED_LENS = {"text": L, "audio": 3 * L, "video": 4 * L}


def make_unaligned_split(rng, n, u):
    """The same task with audio (~2 frames a word) and video (~3) at their own rates.

    Each audio frame shows the cue of the word spoken at its time; word
    durations vary, and the features carry no timing.
    """
    from msa_data.synth_unaligned import frame_words

    aligned, label = make_split(rng, n, u)
    cue = aligned["audio"][..., 0] > 0
    out = {"text": aligned["text"], "text_mask": aligned["text_mask"]}
    for m in ("audio", "video"):
        out[m] = np.zeros((n, UNALIGNED_LENS[m], DIMS[m]), "float32")
        out[f"{m}_mask"] = np.zeros((n, UNALIGNED_LENS[m]), "int64")
    for i in range(n):
        words = frame_words(rng, int(aligned["text_mask"][i].sum()))
        for m in ("audio", "video"):
            w = words[m][:UNALIGNED_LENS[m]]
            frames = rng.normal(size=(len(w), DIMS[m]))
            if m == "audio":
                frames[:, :2] = np.where(cue[i, w], 2.0, -2.0)[:, None] + 0.1 * rng.normal(
                    size=(len(w), 2))
            out[m][i, :len(w)] = frames
            out[f"{m}_mask"][i, :len(w)] = 1
    return out, label
