"""Levels of each class's evidence map, set on validation images that do NOT show the
class (good images and images of other classes), never on boxes.

For class ``k`` the negatives' per-image map maxima say how high the map goes on surface
without ``k``: the ``quantile`` of them is the level a region must exceed (about
``1 - quantile`` of such images get a box: the false-alarm rate per image), the median of
their per-image medians is the background level, and a box's score is where its peak
falls among the negatives' maxima: a heavy-tailed (Cauchy) CDF of its robust z-score on
their median and spread, so scores are comparable across images and a stronger peak always
scores higher (a normal CDF rounds every peak more than ~8 spreads above the negatives to
exactly 1.0, which left a class's boxes unranked; docs/pseudo_boxes.md, step 7).
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

MIN_NEGATIVES = 5


@dataclass
class ClassLevels:
    """The calibration of one class's map.

    Attributes:
        level (float | None): a region's peak must exceed it; None when there were too
            few negative images (then boxes fall back to the image's own peak).
        background (float): typical map value on defect-free surface.
        centre (float): median of the negatives' maxima (score 0.5).
        spread (float): their robust standard deviation (1.4826 x MAD, > 0).
        negatives (int): negative validation images used.
    """
    level: object
    background: float
    centre: float
    spread: float
    negatives: int

    def score(self, peak):
        """A box score in [0, 1]: how far ``peak`` lies above the negatives' maxima, the
        Cauchy CDF ``0.5 + atan(z) / pi`` of ``z = (peak - centre) / spread`` (0.5 at the
        negatives' median, 0.75 one spread above it, 0.97 ten above, still below 1.0 a
        million above; 0 for a NaN peak)."""
        z = (peak - self.centre) / self.spread
        return 0.0 if math.isnan(z) else 0.5 + math.atan(z) / math.pi

    def to_dict(self):
        return asdict(self)


def fit_levels(negative_maps, quantile=0.9):
    """:class:`ClassLevels` from the class's maps on negative validation images.

    Args:
        negative_maps (list[np.ndarray]): float ``[rows, cols]`` maps of images without
            the class; NaN and infinite values are left out (a map with no finite value
            is not used).
        quantile (float): in (0, 1]: share of negative images kept below ``level``.
    Returns:
        ClassLevels: with ``level`` None when fewer than 5 negatives (stated fallback);
        then ``background``, ``centre`` and ``spread`` come from what there is, or are
        0 / 0 / 1 with no negative at all.
    """
    values = [m[np.isfinite(m)] for m in (np.asarray(m, np.float64) for m in negative_maps)]
    values = [v for v in values if v.size]
    if not values:
        return ClassLevels(level=None, background=0.0, centre=0.0, spread=1.0, negatives=0)
    maxima = np.array([float(np.max(v)) for v in values])
    medians = np.array([float(np.median(v)) for v in values])
    centre = float(np.median(maxima))
    spread = float(1.4826 * np.median(np.abs(maxima - centre)))
    spread = spread if spread > 1e-6 else float(np.std(maxima)) or 1e-3
    level = float(np.quantile(maxima, quantile)) if len(maxima) >= MIN_NEGATIVES else None
    return ClassLevels(level=level, background=float(np.median(medians)), centre=centre,
                       spread=spread, negatives=len(maxima))
