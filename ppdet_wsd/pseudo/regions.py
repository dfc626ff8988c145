"""Evidence map -> boxes, cut where the evidence is rather than where the image's peak is.

A region exists where the map rises above a ``level`` set beforehand (e.g. from good
images, :mod:`ppdet_wsd.evidence.calibration`); its extent is where the map stays above
half-way (``extent``) between the ``background`` level and the region's own peak. So a
faint and a strong defect in one image each get a box sized by their own profile, and a
map that never rises above ``level`` gets no box at all. Fragments of one defect that a
coarser map joins become one box (:func:`group_fragments`).
"""
import numpy as np
from scipy import ndimage


def region_boxes(heat, level, background, extent=0.5, always=False, max_regions=10,
                 min_side=1):
    """Boxes of the regions of ``heat`` that rise above ``level``.

    Args:
        heat (np.ndarray): float ``[H, W]`` evidence, any range.
        level (float): a region needs a peak above it.
        background (float): the map's typical value on defect-free surface (< level).
        extent (float): in (0, 1): a region reaches as far as ``heat > background +
            extent * (peak - background)`` stays connected to its peak.
        always (bool): when no pixel exceeds ``level``, still box the map's strongest
            region (the caller knows the image shows a defect; its low peak says how
            doubtful the box is).
        max_regions (int): keep at most this many regions, strongest first.
        min_side (int): drop boxes narrower or lower than this many pixels.
    Returns:
        list[tuple[np.ndarray, float]]: ``(box, peak)`` per region, strongest first;
        ``box`` is float32 ``[4]`` ``(x1, y1, x2, y2)`` in pixel-edge coordinates of
        ``heat``. Empty for an empty, all-NaN or flat map.
    """
    heat = np.nan_to_num(np.asarray(heat, np.float32), nan=-np.inf, posinf=np.finfo(np.float32).max)
    if heat.size == 0 or not np.isfinite(heat).any():
        return []
    seeds, count = ndimage.label(heat > level)
    if count:
        peaks = ndimage.maximum_position(heat, seeds, index=np.arange(1, count + 1))
    elif always:
        peaks = [np.unravel_index(int(np.argmax(heat)), heat.shape)]
    else:
        return []
    peaks = sorted(peaks, key=lambda p: -heat[p])
    taken = np.zeros(heat.shape, bool)
    out = []
    for y, x in peaks:
        if taken[y, x] or len(out) >= max_regions:
            continue
        peak = float(heat[y, x])
        if not peak > background:
            continue
        regions, _ = ndimage.label(heat > background + extent * (peak - background))
        region = regions == regions[y, x]
        taken |= region
        rows, cols = np.nonzero(region)
        box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)
        if min(box[2] - box[0], box[3] - box[1]) >= min_side:
            out.append((box, peak))
    return out


def _centre_inside(box, outer):
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= x <= outer[2] and outer[1] <= y <= outer[3]


def group_fragments(fine, coarse):
    """Fine regions joined into one box wherever a coarse region holds several of them.

    Args:
        fine (list[tuple[np.ndarray, float]]): ``(box, peak)`` regions of the fine map
            (:func:`region_boxes`), strongest first.
        coarse (list[tuple[np.ndarray, float]]): regions of the coarse map over the same
            pixel grid.
    Returns:
        list[tuple[np.ndarray, float]]: the coarse box with the highest fine peak among
        them for each coarse region whose box holds the centres of two or more fine
        regions (each fine region joins the first, strongest, such coarse region); the
        other fine regions as they are; strongest first. A coarse region holding no or
        one fine region adds nothing.
    """
    joined, out = set(), []
    for outer, _ in coarse:
        inside = [j for j, (box, _) in enumerate(fine)
                  if j not in joined and _centre_inside(box, outer)]
        if len(inside) >= 2:
            joined.update(inside)
            out.append((np.asarray(outer, np.float32), max(fine[j][1] for j in inside)))
    out += [region for j, region in enumerate(fine) if j not in joined]
    return sorted(out, key=lambda region: -region[1])
