"""The Evaluator's metrics, named once: output keys, TFMA classes, directions.

Plain constants, no imports: :mod:`trainer.metrics.tfma_metrics` (which TFMA loads by
module path, in Beam workers), :mod:`pipeline.evaluation` and
:mod:`pipeline.blessing` (the EvalConfig, the runner's flags) and the report
(:mod:`reporting`) all read them from here. Definitions are in
:mod:`trainer.metrics.msa_metrics`.
"""

from __future__ import annotations

EXAMPLE_COUNT = "example_count"
MAE = "mae"
CORR = "corr"
ACC2_HAS0 = "acc2_has0"
F1_HAS0 = "f1_has0"
ACC2_NON0 = "acc2_non0"
F1_NON0 = "f1_non0"
ACC7 = "acc7"
ACC5 = "acc5"
CONSTANT_MAE = "constant_mae"
MAE_GAIN = "mae_gain_over_constant"
RELATIVE_GAIN = "relative_gain_over_constant"
GAIN_P = "gain_over_constant_p"
WORSE_P = "worse_than_baseline_p"
CONFUSION_7 = "confusion_matrix_7"
SMALL_SLICE = "small_slice"

# Output key -> TFMA metric class in trainer.metrics.tfma_metrics. The order is the
# EvalConfig's (part of the Evaluator's cache key: keep it).
TFMA_CLASSES = {
    EXAMPLE_COUNT: "MSAExampleCount",
    MAE: "MSAMeanAbsoluteError",
    CORR: "MSACorrelation",
    ACC2_HAS0: "Acc2Has0",
    F1_HAS0: "F1Has0",
    ACC2_NON0: "Acc2Non0",
    F1_NON0: "F1Non0",
    ACC7: "Acc7",
    ACC5: "Acc5",
    CONSTANT_MAE: "ConstantBaselineMAE",
    MAE_GAIN: "MaeGainOverConstant",
    CONFUSION_7: "ConfusionMatrix7",
    SMALL_SLICE: "SmallSlice",
    RELATIVE_GAIN: "RelativeGainOverConstant",
    GAIN_P: "GainOverConstantPValue",
    WORSE_P: "WorseThanBaselinePValue",
}

# How well the model predicts, in the report's column order.
QUALITY = (MAE, CORR, ACC2_HAS0, F1_HAS0, ACC2_NON0, F1_NON0, ACC7, ACC5)
# Shares of examples in [0, 1] (reports print them as percent).
FRACTIONS = frozenset({ACC2_HAS0, F1_HAS0, ACC2_NON0, F1_NON0, ACC7, ACC5})
# Everything else scalar is better lower (the MAEs) or has no direction (counts).
HIGHER_IS_BETTER = frozenset({CORR, MAE_GAIN, RELATIVE_GAIN} | FRACTIONS)
# Metrics of the constant predictor (they need the label_train_mean feature).
CONSTANT_METRICS = frozenset({CONSTANT_MAE, MAE_GAIN, RELATIVE_GAIN, GAIN_P})
# The paired tests' p-values (trainer/metrics/significance.py).
P_VALUES = frozenset({GAIN_P, WORSE_P})
# Checks that compare with the last blessed model: skipped without one.
BASELINE_CHECKS = frozenset({WORSE_P})

# Slices with fewer examples are marked "too small" in reports: their metrics
# are noise (an Acc-2 on 9 examples moves in steps of 11 points).
MIN_SLICE_SIZE = 10
