# Entry points: `make run` (whole pipeline on built-in data) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LOCK   := requirements/tfx-1.16-py311.lock.txt
DEV    := requirements/dev.txt

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore

.PHONY: venv run lint test test-fast bench bench-eval bench-convert bench-model bench-xla bench-serve \
	bench-scale bench-source bench-suite bench-drift report tensorboard

venv: $(STAMP)

# The TFX 1.16 stack is installed from a fully pinned lock with --no-deps (a
# plain resolve backtracks for half an hour); tfx itself declares <3.11 but
# everything under it ships cp311 wheels. The project is installed editable so
# Beam workers import `trainer.*` and `components.*` by dotted path.
$(STAMP): $(LOCK) $(DEV) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<25"
	$(PY) -m pip install --quiet --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python tfx==1.16.0 ml-pipelines-sdk==1.16.0
	$(PY) -m pip install --quiet --no-deps -r $(DEV)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) local_runner.py

# The latest run's HTML report (msa-report; it prints the page's path). The
# default output folder is msa-report's own (outputs/, where `make run` writes);
# `make report OUTPUT_DIR=... RUN=<run id>` for another folder or run.
report: $(STAMP)
	$(PY) -m reporting.report $(if $(OUTPUT_DIR),--output-dir "$(OUTPUT_DIR)") $(if $(RUN),--run "$(RUN)")

# Serves the latest run's training logs (the newest Trainer's ModelRun);
# `make tensorboard OUTPUT_DIR=... PORT=...` for another run or port.
tensorboard: $(STAMP)
	$(PY) -m pipeline.tensorboard $(if $(OUTPUT_DIR),--output-dir "$(OUTPUT_DIR)") $(if $(PORT),--port $(PORT))

# The report's browser test needs headless Chromium (Debian's package; the
# script installs it only when missing). The tests run on TEST_WORKERS
# pytest-xdist workers (one per core of the 2-core reference machine); the
# tests of one shared pipeline fixture stay on one worker (tests/conftest.py).
TEST_WORKERS ?= 2
lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache .

test: $(STAMP) lint
	scripts/ensure_chromium.sh
	$(PY) -m pytest tests -n $(TEST_WORKERS) --durations=10

# While developing: everything but the tests marked slow (pipeline runs,
# long training loops; see tests/conftest.py). `make test` runs them all.
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow" -n $(TEST_WORKERS) --durations=10

bench: $(STAMP)
	$(PY) -m benchmarks.pipeline_benchmark

bench-eval: $(STAMP)
	$(PY) -m benchmarks.evaluator_benchmark

bench-convert: $(STAMP)
	$(PY) -m benchmarks.convert_benchmark

# Train-step time of the default model with XLA (--jit-compile) off vs on,
# side by side in one process (about 1.5 minutes on 2 cores).
bench-xla: $(STAMP)
	$(PY) -m benchmarks.xla_benchmark

bench-serve: $(STAMP)
	$(PY) -m benchmarks.serving_benchmark

# The whole local run on built-in data at 0.25, 0.5 and 1x MOSEI size (22,856
# segments): per-component time and peak RSS, growth fit (about 20 minutes).
bench-scale: $(STAMP)
	$(PY) -m benchmarks.scale_benchmark

# --source mult: on a MOSEI-size pickle: peak RSS against the file's size.
bench-source: $(STAMP)
	$(PY) -m benchmarks.source_benchmark

# The drift check's cost (a span run against the same files as a plain
# folder, medians side by side) and its distances on built-in spans.
bench-drift: $(STAMP)
	$(PY) -m benchmarks.drift_distances
	$(PY) -m benchmarks.drift_benchmark

# The suite's time against make run's pipeline, side by side (goal: at most 4x;
# about 20 minutes on 2 cores).
bench-suite: $(STAMP)
	$(PY) -m benchmarks.suite_time

# Every architecture and preset, 3 seeds each, on the built-in MOSI-size data,
# then the default, the soft alignment it replaced and the baselines on the
# unaligned built-in data (about two hours on 2 cores; finished runs are
# reused when rerun).
bench-model: $(STAMP)
	$(PY) -m benchmarks.model_quality
	$(PY) -m benchmarks.model_quality --unaligned --rows "default (seq_level)" \
		"seq_level, soft alignment" pooled text_only
