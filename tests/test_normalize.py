"""pipeline.normalize: the one MNIST-style 28×28 normalization, on shapes the tests draw."""

from __future__ import annotations

import cv2
import numpy as np

from hdr_expr.pipeline.normalize import FIT, normalize_symbol, stroke_width


def test_thick_strokes_are_thinned_into_mnists_band() -> None:
    ring = np.zeros((120, 90), np.uint8)
    cv2.ellipse(ring, (45, 60), (35, 50), 0, 0, 360, 1, 18)
    out = normalize_symbol(ring.astype(bool))
    assert out.shape == (28, 28)
    assert 1.5 <= stroke_width(out > 0.5) <= 3.5
    assert int((out > 0.3).any(axis=1).sum()) >= FIT - 1


#: A 6 written in marker, as segmented from a canvas drawing: a 4 px stem over a bowl filled solid.
MARKER_SIX = """
###..........
####.........
####.........
####.........
####.........
####.........
####.........
####.........
####.........
####.........
####.........
####.###.....
#########....
##########...
###########..
############.
############.
#############
#############
#############
#############
#############
#############
.###########.
.##########..
..#######....
...#####.....
"""


def test_thinning_never_drops_a_thin_part_joined_to_a_thick_one() -> None:
    # The mean stroke width is the bowl's; eroding to it removed the whole stem and left the bowl alone, which
    # the classifier read as a sure '.'.
    six = np.array([[c == "#" for c in row] for row in MARKER_SIX.split()], bool)
    out = normalize_symbol(six)
    ys, xs = np.nonzero(out > 0.3)
    aspect = (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1)
    assert abs(aspect - 13 / 27) < 0.15, aspect  # tall as drawn (the bowl alone is about as wide as tall)
