"""Writes small (or, for the benchmark, full-size) files in each source layout.

Every writer returns what a correct conversion must produce: per split, the
list of :class:`msa_data.contract.Segment` with the true (unpadded) frames,
computed here from the lengths the writer chose, independently of the
readers' trimming code. With ``expected=False`` (large fixtures) it returns
only the per-split counts.

Special cases (``specials=True``): audio ``-inf`` in the first real frame,
NaN frames, all-zero frames inside a sequence, a sequence with no real
frames, a sequence with no padding, bytes (MOSI) vs str (MOSEI) ids.
"""

from __future__ import annotations

import os
import pickle
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from msa_data import contract, synth
from msa_data.synth_plan import standard_folds

MULT_DIMS = {"mosi": {"text": 300, "audio": 5, "video": 20},
             "mosei": {"text": 300, "audio": 74, "video": 35}}
MMSA_DIMS = {"mosi": {"text": 768, "audio": 5, "video": 20},
             "mosei": {"text": 768, "audio": 74, "video": 35}}
SDK_DIMS = {"mosi": {"text": 300, "audio": 74, "video": 47},
            "mosei": {"text": 300, "audio": 74, "video": 35}}
H5_DIMS = {"text": 300, "audio": 74, "video": 35}
SMALL = {"train": 8, "valid": 4, "test": 5}
MOSI_COUNTS = {"train": 1284, "valid": 229, "test": 686}
MOSEI_COUNTS = {"train": 16326, "valid": 1871, "test": 4659}
SOURCE_KEY = {"text": "text", "audio": "audio", "video": "vision"}


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *tags])))


def _videos(dataset: str, split: str, n: int) -> List[str]:
    videos = standard_folds()[dataset][split]
    return [videos[i % len(videos)] for i in range(n)]


def _padded(rng, n: int, steps: int, dim: int, lengths: np.ndarray, side: str,
            dtype=np.float32) -> np.ndarray:
    """Random frames, zero-padded on ``side`` down to ``lengths`` real frames."""
    arr = rng.standard_normal((n, steps, dim), dtype=np.float32)
    if dtype != np.float32:
        arr = arr.astype(dtype)
    t = np.arange(steps)[None, :]
    pad = t < (steps - lengths)[:, None] if side == "front" else t >= lengths[:, None]
    arr[pad] = 0
    return arr


def _real(arr: np.ndarray, i: int, length: int, side: str) -> np.ndarray:
    steps = arr.shape[1]
    rows = arr[i, steps - length:] if side == "front" else arr[i, :length]
    return np.array(rows, dtype=np.float32)


def _first_real(steps: int, length: int, side: str) -> int:
    return steps - length if side == "front" else 0


def _apply_specials(arrays: Dict[str, np.ndarray], lengths: Dict[str, np.ndarray],
                    side: str) -> None:
    """Special frames in rows 0-3 (lengths must leave room: >= 3 real frames)."""
    a, v, t = arrays["audio"], arrays["video"], arrays["text"]
    # row 0: -inf in the first real audio frame (not padding), zero frame inside video
    a[0, _first_real(a.shape[1], lengths["audio"][0], side), 0] = -np.inf
    v[0, _first_real(v.shape[1], lengths["video"][0], side) + 1] = 0
    # row 1: NaN frame first in video, zero text frame inside, -inf inside audio
    v[1, _first_real(v.shape[1], lengths["video"][1], side)] = np.nan
    t[1, _first_real(t.shape[1], lengths["text"][1], side) + 1] = 0
    a[1, _first_real(a.shape[1], lengths["audio"][1], side) + 1, -1] = -np.inf


def _lengths(rng, n: int, steps: int, specials: bool, low: int = 1) -> np.ndarray:
    lengths = rng.integers(low, steps + 1, n)
    if specials and n >= 4:
        lengths[0:2] = np.maximum(lengths[0:2], 3)
        lengths[2] = steps  # no padding at all
    return lengths


# --------------------------------------------------------------------------
# MulT pickles


def write_mult(path: str, dataset: str = "mosi", counts: Mapping[str, int] = SMALL,
               aligned: bool = True, seed: int = 0, specials: bool = True,
               expected: bool = True, dims: Optional[Mapping[str, int]] = None) -> dict:
    """``mosi_data.pkl``-style pickle; MOSI ids are bytes, MOSEI ids str."""
    dims = dict(dims or MULT_DIMS[dataset])
    steps = {"text": 50, "audio": 50, "video": 50} if aligned else \
        {"text": 50, "audio": 375, "video": 500}
    data, result = {}, {}
    for k, split in enumerate(contract.SPLITS):
        n, rng = counts[split], _rng(seed, 1, k)
        lengths = {m: _lengths(rng, n, steps[m], specials) for m in contract.MODALITIES}
        if aligned:
            lengths = {m: lengths["text"] for m in contract.MODALITIES}
        arrays = {m: _padded(rng, n, steps[m], dims[m], lengths[m], "front")
                  for m in contract.MODALITIES}
        if specials and n >= 4:
            _apply_specials(arrays, lengths, "front")
            arrays["video"][3] = 0  # row 3: no real video frames
            lengths["video"] = lengths["video"].copy()
            lengths["video"][3] = 0
        videos = _videos(dataset, split, n)
        rows = [[v, str(i), ""] for i, v in enumerate(videos)]
        ids = np.array(rows, dtype="S" if dataset == "mosi" else "U")
        labels = np.clip(rng.normal(0, 1.5, (n, 1, 1)), -3, 3).astype(np.float32)
        data[split] = {"text": arrays["text"], "audio": arrays["audio"],
                       "vision": arrays["video"], "labels": labels, "id": ids}
        if expected:
            result[split] = [contract.Segment(
                segment_id=f"{videos[i]}_{i}", video_id=videos[i], dataset=dataset,
                label=float(labels[i, 0, 0]),
                **{m: _real(arrays[m], i, lengths[m][i], "front") for m in contract.MODALITIES})
                for i in range(n)]
        else:
            result[split] = n
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return result


# --------------------------------------------------------------------------
# MMSA pickles


def write_mmsa(path: str, dataset: str = "mosi", counts: Mapping[str, int] = SMALL,
               aligned: bool = True, seed: int = 0, specials: bool = True,
               expected: bool = True) -> dict:
    """``aligned_50.pkl`` / ``unaligned_50.pkl``-style pickle, padded at the end."""
    dims = MMSA_DIMS[dataset]
    steps = {"text": 50, "audio": 50, "video": 50} if aligned else \
        {"text": 50, "audio": 375, "video": 500}
    data, result = {}, {}
    for k, split in enumerate(contract.SPLITS):
        n, rng = counts[split], _rng(seed, 2, k)
        lengths = {m: _lengths(rng, n, steps[m], specials) for m in contract.MODALITIES}
        arrays = {m: _padded(rng, n, steps[m], dims[m], lengths[m], "end")
                  for m in contract.MODALITIES}
        if specials and n >= 4:
            _apply_specials(arrays, lengths, "end")
            # row 3: the last real text frame is all zero; only the mask knows it is real
            arrays["text"][3, lengths["text"][3] - 1] = 0
            if not aligned:  # ... and the last real audio frame: only audio_lengths knows
                arrays["audio"][3, lengths["audio"][3] - 1] = 0
        mask = (np.arange(50)[None, :] < lengths["text"][:, None]).astype(np.float32)
        bert = np.stack([rng.integers(100, 30000, (n, 50)) * mask, mask,
                         np.zeros((n, 50), np.float32)], axis=1).astype(np.float32)
        videos = _videos(dataset, split, n)
        labels = np.clip(rng.normal(0, 1.5, n), -3, 3).astype(np.float32)
        part = {"raw_text": [f"words of segment {i}" for i in range(n)],
                "id": np.array([f"{v}$_${i}" for i, v in enumerate(videos)]),
                "text": arrays["text"], "text_bert": bert,
                "audio": arrays["audio"], "vision": arrays["video"],
                "annotations": ["Positive" if x > 0 else "Negative" for x in labels],
                "classification_labels": (labels > 0).astype(np.float32),
                "regression_labels": labels}
        if not aligned:
            part["audio_lengths"] = [int(x) for x in lengths["audio"]]
            part["vision_lengths"] = lengths["video"].astype(np.int64)
        data[split] = part
        if expected:
            result[split] = [contract.Segment(
                segment_id=f"{videos[i]}_{i}", video_id=videos[i], dataset=dataset,
                label=float(labels[i]),
                **{m: _real(arrays[m], i, lengths[m][i], "end") for m in contract.MODALITIES})
                for i in range(n)]
        else:
            result[split] = n
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return result


# --------------------------------------------------------------------------
# msa-tf2 / Deep-HOSeq h5 files


def write_msa_h5(folder: str, counts: Mapping[str, int] = SMALL, seed: int = 0,
                 specials: bool = True, expected: bool = True, dataset: str = "mosi",
                 steps: int = 20, block: int = 4096) -> dict:
    import h5py

    os.makedirs(folder, exist_ok=True)
    names = {"text": "text_{}_emb.h5", "audio": "audio_{}.h5", "video": "video_{}.h5"}
    result = {}
    for k, split in enumerate(contract.SPLITS):
        n, rng = counts[split], _rng(seed, 3, k)
        files = {m: h5py.File(os.path.join(folder, names[m].format(split)), "w")
                 for m in contract.MODALITIES}
        sets = {m: files[m].create_dataset("d1", (n, steps, H5_DIMS[m]), dtype="float32")
                for m in contract.MODALITIES}
        labels = np.clip(rng.normal(0, 1.5, (n, 1)), -3, 3).astype(np.float32)
        segments = []
        for start in range(0, n, block):
            stop = min(n, start + block)
            lengths = {m: _lengths(rng, stop - start, steps, specials and start == 0)
                       for m in contract.MODALITIES}
            arrays = {m: _padded(rng, stop - start, steps, H5_DIMS[m], lengths[m], "front")
                      for m in contract.MODALITIES}
            if specials and start == 0 and stop - start >= 4:
                _apply_specials(arrays, lengths, "front")
                first = steps - lengths["text"][3]  # first real frame: zeros and one NaN
                arrays["text"][3, first] = 0
                arrays["text"][3, first, 5] = np.nan
            for m in contract.MODALITIES:
                sets[m][start:stop] = arrays[m]
            if expected:
                segments.extend(contract.Segment(
                    segment_id=f"{split}-{start + i}", video_id="unknown", dataset=dataset,
                    label=float(labels[start + i, 0]),
                    **{m: _real(arrays[m], i, lengths[m][i], "front")
                       for m in contract.MODALITIES}) for i in range(stop - start))
        for f in files.values():
            f.close()
        with h5py.File(os.path.join(folder, f"y_{split}.h5"), "w") as f:
            f.create_dataset("d1", data=labels)
        result[split] = segments if expected else n
    return result


# --------------------------------------------------------------------------
# CMU-MultimodalSDK computational sequences


def _csd_writer(path: str, root: str):
    import h5py

    handle = h5py.File(path, "w")
    group = handle.create_group(root)
    meta = group.create_group("metadata")
    meta.create_dataset("root name", data=root)
    meta.create_dataset("dimension names", data='["feature"]')
    return handle, group.create_group("data")


def sdk_reference(words, word_iv, audio, audio_iv, video, video_iv, start, end, unaligned):
    """The expected frames of one segment, computed naively (one mask per word)."""
    def overlap(iv, s, e):
        if e > s:
            return (iv[:, 0] < e) & (iv[:, 1] > s)
        return (iv[:, 0] <= s) & (iv[:, 1] >= s)

    if unaligned:
        return (words[overlap(word_iv, start, end)], audio[overlap(audio_iv, start, end)],
                video[overlap(video_iv, start, end)])
    keep = (word_iv[:, 0] >= start) & (word_iv[:, 1] <= end)
    out = []
    for feats, iv in ((audio, audio_iv), (video, video_iv)):
        rows = []
        for s, e in word_iv[keep]:
            hit = overlap(iv, s, e)
            with np.errstate(invalid="ignore"):
                rows.append(feats[hit].astype(np.float64).mean(axis=0) if hit.any()
                            else np.zeros(feats.shape[1]))
        out.append(np.array(rows, dtype=np.float64).reshape(-1, feats.shape[1]))
    return (words[keep], out[0], out[1])


def write_sdk(folder: str, dataset: str = "mosi",
              videos_per_split: Mapping[str, int] = {"train": 2, "valid": 1, "test": 1},
              segments_per_video: Sequence[int] = (2, 4), seed: int = 0,
              expected: bool = True, unaligned: bool = False, audio_hz: float = 20.0,
              video_hz: float = 10.0, words_per_s: float = 2.5, extra_files: bool = True,
              stray_video: bool = True) -> dict:
    """A folder of .csd files; one stray video outside the folds (dropped) when asked."""
    os.makedirs(folder, exist_ok=True)
    prefix = "CMU_MOSI" if dataset == "mosi" else "CMU_MOSEI"
    dims = SDK_DIMS[dataset]
    facet = "Visual_Facet_41" if dataset == "mosi" else "VisualFacet42"
    label_name = "Opinion_Labels" if dataset == "mosi" else "Labels"
    files = {"text": f"{prefix}_TimestampedWordVectors", "audio": f"{prefix}_COVAREP",
             "video": f"{prefix}_{facet}", "label": f"{prefix}_{label_name}"}
    handles = {r: _csd_writer(os.path.join(folder, n + ".csd"), n) for r, n in files.items()}
    if extra_files:  # files the reader must ignore or rank below the right ones
        h, d = _csd_writer(os.path.join(folder, f"{prefix}_TimestampedWords.csd"),
                           f"{prefix}_TimestampedWords")
        d.create_group("x").create_dataset("features", data=np.array([[b"hi"]]))
        h.close()
        if dataset == "mosi":
            h, d = _csd_writer(os.path.join(folder, f"{prefix}_Visual_Facet_42.csd"), "F42")
            g = d.create_group("x")
            g.create_dataset("features", data=np.zeros((1, 35), np.float32))
            g.create_dataset("intervals", data=np.zeros((1, 2)))
            h.close()
    plan = [(s, v) for s in contract.SPLITS
            for v in standard_folds()[dataset][s][:videos_per_split[s]]]
    if stray_video:
        plan.append((None, "strayVideo00"))
    plan.sort(key=lambda sv: sv[1])  # HDF5 lists a file's videos by name
    result = {s: [] if expected else 0 for s in contract.SPLITS}
    result["dropped"] = []
    label_width = 1 if dataset == "mosi" else 7
    for j, (split, video) in enumerate(plan):
        rng = _rng(seed, 4, j)
        n_seg = int(rng.integers(segments_per_video[0], segments_per_video[1] + 1))
        # label intervals with gaps; words cover the whole video (some outside segments)
        durations = rng.uniform(2.0, 6.0, n_seg)
        gaps = rng.uniform(0.2, 1.5, n_seg)
        starts = np.cumsum(gaps + np.concatenate([[0], durations[:-1]]))
        label_iv = np.stack([starts, starts + durations], axis=1)
        total = float(label_iv[-1, 1] + 1.0)
        n_words = max(1, int(total * words_per_s))
        bounds = np.sort(rng.uniform(0, total, n_words * 2)).reshape(n_words, 2)
        word_iv = bounds
        words = rng.standard_normal((n_words, dims["text"]), dtype=np.float32)
        audio_iv = _grid(total, audio_hz)
        audio = rng.standard_normal((len(audio_iv), dims["audio"]), dtype=np.float32)
        video_iv = _grid(total, video_hz)
        vid = rng.standard_normal((len(video_iv), dims["video"]), dtype=np.float32)
        if expected:  # specials: -inf audio, NaN and all-zero visual frames
            audio[rng.integers(0, len(audio), 3), -1] = -np.inf
            vid[rng.integers(0, len(vid), 3)] = 0
            vid[rng.integers(0, len(vid), 1), 2] = np.nan
        labels = np.clip(rng.normal(0, 1.5, (n_seg, label_width)), -3, 3).astype(np.float32)
        for role, feats, iv in (("text", words, word_iv), ("audio", audio, audio_iv),
                                ("video", vid, video_iv), ("label", labels, label_iv)):
            g = handles[role][1].create_group(video)
            g.create_dataset("features", data=feats)
            g.create_dataset("intervals", data=iv)
        for k in range(n_seg):
            if split is None:
                result["dropped"].append(f"{video}_{k}")
            elif expected:
                t, a, v = sdk_reference(words, word_iv, audio, audio_iv, vid, video_iv,
                                        label_iv[k, 0], label_iv[k, 1], unaligned)
                result[split].append(contract.Segment(
                    segment_id=f"{video}_{k}", video_id=video, dataset=dataset,
                    label=float(labels[k, 0]), text=np.asarray(t, np.float32),
                    audio=np.asarray(a, np.float32), video=np.asarray(v, np.float32)))
            else:
                result[split] += 1
    for handle, _ in handles.values():
        handle.close()
    return result


def _grid(total: float, hz: float) -> np.ndarray:
    starts = np.arange(0.0, total, 1.0 / hz)
    return np.stack([starts, starts + 1.0 / hz], axis=1)


def write_mult_from_synth(path: str, per_split: int = 60, seed: int = 0) -> Dict[str, int]:
    """A MulT MOSEI-shaped pickle (300/74/35) holding learnable msa-synth segments.

    The labels are the synthetic sentiment function of the features, so a
    pipeline run on it can beat the constant predictor and push a model.
    Segments longer than 50 frames are skipped; ``per_split`` of the rest,
    spread over the split's videos, are front-padded.
    """

    dims = MULT_DIMS["mosei"]
    plan = synth.plan_splits("mosi", seed)
    data, counts = {}, {}
    for split in contract.SPLITS:
        fitting = [syn.segment for syn in synth.iter_split(split, plan[split], seed=seed,
                                                           dims=dims)
                   if syn.segment.text.shape[0] <= 50]
        # spread over the split's videos, as msa-synth --limit-per-split does
        kept = [fitting[i] for i in synth.spread_subset(len(fitting), per_split)]
        n = len(kept)
        arrays = {m: np.zeros((n, 50, dims[m]), np.float32) for m in contract.MODALITIES}
        for i, seg in enumerate(kept):
            for m in contract.MODALITIES:
                frames = seg.frames(m)
                arrays[m][i, 50 - frames.shape[0]:] = frames
        ids = np.array([[s.video_id, s.segment_id.rsplit("_", 1)[1], ""] for s in kept])
        data[split] = {"text": arrays["text"], "audio": arrays["audio"],
                       "vision": arrays["video"], "id": ids,
                       "labels": np.array([s.label for s in kept], np.float32).reshape(n, 1, 1)}
        counts[split] = n
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return counts
