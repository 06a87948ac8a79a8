"""Training data: MNIST IDX files, real handwritten-symbol sets in their native layouts, the stroke
synthesizer, and the training mixes built from them. Every symbol image passes through
:func:`hdr_expr.pipeline.normalize.normalize_symbol`, the function the recognition pipeline uses."""
