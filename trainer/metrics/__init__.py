"""The MSA metrics: numpy definitions (``msa_metrics``), the same as TensorFlow ops
(``msa_metrics_tf``), and their Keras (``keras_metrics``) and TFMA (``tfma_metrics``) wrappers."""
