"""Compiling for, and running on, Kubeflow Pipelines and Vertex AI (kubeflow_runner.py)."""
