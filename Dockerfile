# The image Kubeflow Pipelines runs every component in: TFX's own 1.16.0 image
# (Python 3.10 with its TFX stack) plus this project, installed without
# dependencies so that stack is never replaced. Every task's command is
# `python -m pipeline.kubeflow.entrypoint` (kubeflow_runner.py compiles it in).
#   docker build -t REGISTRY/msa-tfx:TAG . && docker push REGISTRY/msa-tfx:TAG
FROM gcr.io/tfx-oss-public/tfx:1.16.0

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /msa
COPY pyproject.toml README.md ./
COPY msa_data ./msa_data
COPY schema ./schema
COPY trainer ./trainer
COPY components ./components
COPY pipeline ./pipeline
COPY reporting ./reporting

# A wheel in /msa/dist can also be staged to Dataflow workers (--extra_package).
RUN python -m pip wheel --no-deps --no-build-isolation -w /msa/dist . \
 && python -m pip install --no-deps --no-cache-dir /msa/dist/*.whl \
 && python -c "import trainer.task, trainer.metrics.tfma_metrics, components.data_gate, components.msa_trainer, components.latest_pushed_model, components.input_fingerprint, pipeline.kubeflow.entrypoint"
