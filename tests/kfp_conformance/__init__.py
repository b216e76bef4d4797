"""Executes a compiled pipeline on this machine the way each backend would.

No Kubeflow cluster and no Vertex AI exist here, so the backends are
emulated, and only they are: every task runs its real command from the
compiled spec, in the project's environment, against real ML Metadata in
SQLite. :mod:`.kfp` follows open-source Kubeflow Pipelines'
``backend/src/v2`` (driver, launcher, metadata client); :mod:`.vertex`
follows what Vertex AI Pipelines hands a TFX task. Each module lists what
it follows and where it deviates. ``python -m tests.kfp_conformance``
runs a spec from the command line.
"""
