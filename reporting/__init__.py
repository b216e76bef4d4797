"""``msa-report``: what a finished run's Evaluator said, as text and as an HTML page.

Reads a run's results (ML Metadata and the Evaluator's TFMA output) after the
fact; nothing here is part of the pipeline's definition. Entry point:
:mod:`reporting.report`.
"""
