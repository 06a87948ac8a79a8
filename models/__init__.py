"""The paper's CNN, training, export, model cards and the shipped default model.

Only :mod:`hdr_expr.models.card` is imported on the recognize path; everything that needs TensorFlow or Keras
(``cnn``, ``train``, ``export``, ``evaluate``) is imported by the commands that use it.
"""
