"""The Keras training loop (``loop``) and its recipe: the model built and compiled
(``keras_model``), the data (``data``), optimizer and schedules (``optimization``), mixed
precision (``precision``), checkpoints per epoch (``checkpointing``) and warm start."""
