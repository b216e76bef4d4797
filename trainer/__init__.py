"""Model code: Transform's preprocessing, the Keras model and its training, the metrics.

Importing the package makes the project's Keras choice (:mod:`trainer.keras_choice`)
before any submodule loads TensorFlow.
"""

from trainer.keras_choice import use_tf_keras

use_tf_keras()
