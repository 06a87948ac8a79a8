"""The CNN of Li (2025), "Handwritten Digit Recognition Based on TensorFlow Framework", Table 1.

Conv 32@5×5 → ReLU → MaxPool 2×2 → Conv 64@5×5 → ReLU → MaxPool 2×2 → Dense 1024 ReLU → Dropout 0.5 →
Dense N → Softmax. Convolutions use 'same' padding (TensorFlow's Deep MNIST layout: 28 → 14 → 7, so the
flattened feature vector is 7·7·64 = 3136). The number of output classes is a parameter: 10 for the digits,
more for the symbol head.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)


def build_cnn(num_classes: int = 10, *, name: str = "li2025_cnn") -> keras.Model:
    """The paper's architecture with ``num_classes`` outputs (softmax probabilities)."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="image"),
            layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(1024, activation="relu", name="fc1"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(num_classes, name="logits"),
            layers.Softmax(name="probabilities"),
        ],
        name=name,
    )


def widen_head(model: keras.Model, num_classes: int) -> keras.Model:
    """A copy of ``model`` whose last Dense layer has ``num_classes`` outputs; every other layer keeps its
    trained weights. The old head's rows for classes that stay (the digits come first) seed the new head."""
    new = build_cnn(num_classes, name=model.name)
    for old_layer, new_layer in zip(model.layers, new.layers):
        if old_layer.name == "logits":
            kernel, bias = old_layer.get_weights()
            new_kernel, new_bias = new_layer.get_weights()
            keep = min(kernel.shape[1], num_classes)
            new_kernel[:, :keep] = kernel[:, :keep]
            new_bias[:keep] = bias[:keep]
            new_layer.set_weights([new_kernel, new_bias])
        elif old_layer.get_weights():
            new_layer.set_weights(old_layer.get_weights())
    return new
