"""The trainer's light core: names and settings, importable without TensorFlow.

What the pipeline wiring, the Evaluator's workers and the report need from
the model code is names: transformed-feature and slice names
(:mod:`.features`), metric names (:mod:`.metric_names`), the Trainer's
settings (:mod:`.config`), the Tuner's search space (:mod:`.search_space`)
and the console lines the Trainer prints (:mod:`.progress`). Nothing in
this package imports TensorFlow (a test checks it).
"""
