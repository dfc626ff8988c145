"""Tighten a box around the pixels that visibly differ from their surroundings.

A stride-8 evidence map blurs a small defect: the region cut from it is two or three times
wider than a 15-pixel blowhole. Inside such a box, the defect itself is usually a set of
pixels darker or brighter than the surface around the box. This step keeps only those
(``|pixel - ring median| > min_contrast`` robust standard deviations of the ring), and
shrinks the box to them. Where nothing stands out (diffuse defects, stains, texture
changes) or where most of the box stands out (the defect fills it), the box is kept.
Each side moves in by at most ``max_shrink`` pixels (the blur the map added), so a long,
faint scratch whose ends barely stand out keeps its length.

The opposite case, a thin line (a crack across a part) whose map lit only one stretch, is
:func:`grow_line_box`: the box follows the line's contrasting pixels beyond its edges.
"""
import cv2
import numpy as np

RING = 0.5            # the ring around a box is this share of its longer side wide
MIN_PIXELS = 4        # fewer contrasting pixels than this: no evidence, keep the box
MAX_FILL = 0.6        # contrasting pixels over more than this share of the box: keep it
KEEP_COMPONENT = 0.2  # components smaller than this share of the largest are noise


def _pixel_box(grey, box):
    """``box`` rounded to whole pixels inside ``grey``, at least one pixel wide and high."""
    height, width = grey.shape
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1 = max(0, x1), max(0, y1)
    return x1, y1, min(width, max(x2, x1 + 1)), min(height, max(y2, y1 + 1))


def _ring_window(grey, box):
    """The box and the ring of surface around it (``RING`` of its longer side wide):
    ``(window float32 [h, w], inside bool [h, w] (the box's pixels), (x0, y0) the
    window's origin in ``grey``)``."""
    x1, y1, x2, y2 = _pixel_box(grey, box)
    pad = int(np.ceil(RING * max(x2 - x1, y2 - y1)))
    ex1, ey1 = max(0, x1 - pad), max(0, y1 - pad)
    window = np.asarray(grey[ey1:y2 + pad, ex1:x2 + pad], np.float32)
    inside = np.zeros(window.shape, bool)
    inside[y1 - ey1:y2 - ey1, x1 - ex1:x2 - ex1] = True
    return window, inside, (ex1, ey1)


def _surface(window, inside):
    """``(median, robust spread + 1)`` of the ring (``window`` outside ``inside``), or None
    when it has fewer than ``MIN_PIXELS`` pixels."""
    ring = window[~inside]
    if ring.size < MIN_PIXELS:
        return None
    centre = float(np.median(ring))
    return centre, 1.4826 * float(np.median(np.abs(ring - centre))) + 1.0


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
    window, inside, (ex1, ey1) = _ring_window(grey, box)
    surface = _surface(window, inside)
    if surface is None:
        return [float(v) for v in box]
    centre, spread = surface
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


def grow_line_box(grey, box, reach=2.0, seed_contrast=3.0, grow_contrast=2.0,
                  max_share=0.05, min_elongation=3.0):
    """The box grown along a thin line that leaves it, or the box itself.

    The line is the pixels that differ from the ring around the box (as in
    :func:`tighten_box`) by more than ``grow_contrast`` robust deviations and are connected
    to pixels inside the box that differ by more than ``seed_contrast``; it is looked for
    within ``reach`` times the box's longer side around the box. The box grows to cover it
    only when the line is thin and long: at least ``min_elongation`` times as long as it is
    wide, and no more than ``max_share`` of the searched window (more is texture).

    Args:
        grey (np.ndarray): float or uint8 ``[H, W]`` image.
        box (array-like): ``(x1, y1, x2, y2)`` pixel-edge coordinates.
    Returns:
        list[float]: ``(x1, y1, x2, y2)``, never smaller than ``box``.
    """
    surface = _surface(*_ring_window(grey, box)[:2])
    if surface is None:
        return [float(v) for v in box]
    centre, spread = surface
    x1, y1, x2, y2 = _pixel_box(grey, box)
    far = int(reach * max(x2 - x1, y2 - y1))
    gx1, gy1 = max(0, x1 - far), max(0, y1 - far)
    window = np.asarray(grey[gy1:y2 + far, gx1:x2 + far], np.float32)
    deviation = np.abs(window - centre) / spread
    seeds = np.zeros(window.shape, bool)
    seeds[y1 - gy1:y2 - gy1, x1 - gx1:x2 - gx1] = True
    seeds &= deviation > seed_contrast
    if seeds.sum() < MIN_PIXELS:
        return [float(v) for v in box]
    _, labels = cv2.connectedComponents((deviation > grow_contrast).astype(np.uint8),
                                        connectivity=8)
    line = np.isin(labels, np.setdiff1d(np.unique(labels[seeds]), [0]))
    rows, cols = np.nonzero(line)
    long_side = max(np.ptp(rows), np.ptp(cols)) + 1
    short_side = min(np.ptp(rows), np.ptp(cols)) + 1
    if line.mean() > max_share or long_side < min_elongation * short_side:
        return [float(v) for v in box]
    return [float(min(box[0], gx1 + cols.min())), float(min(box[1], gy1 + rows.min())),
            float(max(box[2], gx1 + cols.max() + 1)), float(max(box[3], gy1 + rows.max() + 1))]
