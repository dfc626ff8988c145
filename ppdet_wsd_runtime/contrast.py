"""Tighten a box around the pixels that visibly differ from their surroundings.

A stride-8 evidence map blurs a small defect: the region cut from it is two or three times
wider than a 15-pixel blowhole. Inside such a box, the defect itself is usually a set of
pixels darker or brighter than the surface around the box. This step keeps only those
(``|pixel - ring median| > min_contrast`` robust standard deviations of the ring), and
shrinks the box to them. Where nothing stands out (diffuse defects, stains, texture
changes) or where most of the box stands out (the defect fills it), the box is kept.
Each side moves in by at most ``max_shrink`` pixels (the blur the map added), so a long,
faint scratch whose ends barely stand out keeps its length.
"""
import cv2
import numpy as np

RING = 0.5            # the ring around a box is this share of its longer side wide
MIN_PIXELS = 4        # fewer contrasting pixels than this: no evidence, keep the box
MAX_FILL = 0.6        # contrasting pixels over more than this share of the box: keep it
KEEP_COMPONENT = 0.2  # components smaller than this share of the largest are noise


def tighten_box(grey, box, max_shrink=np.inf, min_contrast=3.0):
    """The box shrunk to the contrasting pixels inside it, or the box itself.

    Args:
        grey (np.ndarray): float or uint8 ``[H, W]`` image.
        box (array-like): ``(x1, y1, x2, y2)`` pixel-edge coordinates.
        max_shrink (float): the most any side moves in, in pixels.
        min_contrast (float): robust standard deviations a pixel must differ by.
    Returns:
        list[float]: ``(x1, y1, x2, y2)``, never larger than ``box``, with x1 < x2 and
        y1 < y2 when ``box`` has them.
    """
    height, width = grey.shape
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(width, max(x2, x1 + 1)), min(height, max(y2, y1 + 1))
    pad = int(np.ceil(RING * max(x2 - x1, y2 - y1)))
    ex1, ey1 = max(0, x1 - pad), max(0, y1 - pad)
    ex2, ey2 = min(width, x2 + pad), min(height, y2 + pad)
    window = np.asarray(grey[ey1:ey2, ex1:ex2], np.float32)
    inside = np.zeros(window.shape, bool)
    inside[y1 - ey1:y2 - ey1, x1 - ex1:x2 - ex1] = True
    ring = window[~inside]
    if ring.size < MIN_PIXELS:
        return [float(v) for v in box]
    centre = float(np.median(ring))
    spread = 1.4826 * float(np.median(np.abs(ring - centre))) + 1.0
    contrast = (np.abs(window - centre) > min_contrast * spread) & inside
    count = int(contrast.sum())
    if count < MIN_PIXELS or count > MAX_FILL * inside.sum():
        return [float(v) for v in box]
    _, labels, stats, _ = cv2.connectedComponentsWithStats(contrast.astype(np.uint8),
                                                           connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background
    keep = np.isin(labels, 1 + np.flatnonzero(sizes >= KEEP_COMPONENT * sizes.max()))
    rows, cols = np.nonzero(keep)
    tight = np.array([ex1 + cols.min(), ey1 + rows.min(), ex1 + cols.max() + 1,
                      ey1 + rows.max() + 1], np.float64)
    box = np.asarray(box, np.float64)
    low = np.minimum(box[:2] + max_shrink, box[2:])
    high = np.maximum(box[2:] - max_shrink, box[:2])
    out = np.concatenate([np.clip(tight[:2], box[:2], low), np.clip(tight[2:], high, box[2:])])
    if not (out[0] < out[2] and out[1] < out[3]):  # a sub-pixel box: its rounded pixels
        return box.tolist()                        # stood out beside it, not within
    return out.tolist()
