"""Refit the pseudo-box cut on reviewed images, so that it best reproduces the boxes a
person accepted (redrawn and added boxes included):

1. the **level** a region must pass, through the share of negative val images kept below
   it (``PatchEvidence.level_quantile``, one of :data:`QUANTILES`): the levels stay set on
   val images without the defect (their meaning, a false-alarm rate per image, is kept),
   and the review chooses which rate finds the accepted boxes and not the rejected ones;
2. then the **extent** (how far a box reaches from its peak, ``PatchEvidence.extent``, one
   of :data:`EXTENTS`) at that level.

Meaningful only with enough reviewed boxes: with fewer than :data:`MIN_IMAGES` reviewed
images holding an accepted box the settings stay as they were (and the stage says so),
and another value replaces the current one only when it matches the accepted boxes
clearly better (by :data:`MIN_GAIN` mean F1): on a dozen images a smaller difference is
noise (on the demo, extent 0.4 beat 0.5 by 0.001 on 15 images and lost on the 111 others).
"""
import contextlib
import hashlib

import numpy as np

from ..evidence.fit import calibrate, negative_maps
from ..evidence.run import evidence_results
from ..metrics.localization import box_iou

EXTENTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
QUANTILES = (0.8, 0.9, 0.95, 0.98, 0.995)
IOUS = (0.3, 0.5, 0.7)
MIN_IMAGES = 3
MIN_GAIN = 0.02  # mean F1 another value must gain over the current one to replace it


def match_f1(predicted, truth, iou):
    """F1 of one-to-one matches (greedy by IoU) between predicted and true boxes.

    Args:
        predicted, truth (list[tuple]): ``(image index, class, [x1, y1, x2, y2])``.
        iou (float): a match needs at least this IoU and the same class and image.
    Returns:
        float: in [0, 1]; 1.0 when both are empty.
    """
    if not predicted and not truth:
        return 1.0
    matched = 0
    for key in {(i, c) for i, c, _ in truth}:
        p = [b for i, c, b in predicted if (i, c) == key]
        t = [b for i, c, b in truth if (i, c) == key]
        overlaps = box_iou(p, t) if p else np.zeros((0, len(t)))
        while overlaps.size and overlaps.max() >= iou:
            r, k = np.unravel_index(np.argmax(overlaps), overlaps.shape)
            matched += 1
            overlaps[r, :], overlaps[:, k] = -1, -1
    return 2 * matched / (len(predicted) + len(truth))


def reviewed_truth(review, images):
    """``(images with an accepted box, [(image index, class, box)])`` from a review:
    the accepted boxes of images not marked "no defect visible".

    Args:
        review (dict): store format.
        images (list[LabeledImage]): candidates (their ``file`` as in the review).
    """
    chosen, truth = [], []
    for image in images:
        record = review['images'].get(image.file)
        boxes = [] if record is None or record['no_defect'] else \
            [b for b in record['boxes'] if b['state'] == 'accepted']
        if boxes:
            truth += [(len(chosen), b['class'], b['box']) for b in boxes]
            chosen.append(image)
    return chosen, truth


def _match_score(model, store, images, image_root, truth, desc):
    """Mean F1 over :data:`IOUS` of the model's boxes on ``images`` against ``truth``."""
    predicted = [(i, b['class'], b['box']) for i, r in enumerate(evidence_results(
        model, store, images, image_root, desc=desc)) for b in r['boxes']]
    return float(np.mean([match_f1(predicted, truth, t) for t in IOUS]))


def _choose(scores, before):
    """The best-scoring value if it beats ``before`` by :data:`MIN_GAIN`, else ``before``
    (ties go to ``before``)."""
    best = max(scores, key=lambda v: (round(scores[v], 9), v == before))
    return best if scores[best] >= scores[before] + MIN_GAIN else before


def choose_extent(model, store, images, image_root, truth):
    """The extent of :data:`EXTENTS` whose boxes on ``images`` best match ``truth``
    (mean F1 over IoU 0.3 / 0.5 / 0.7), if it beats the current extent by
    :data:`MIN_GAIN`; else the current extent.

    Args:
        model (EvidenceModel): fitted; its ``settings['extent']`` is restored.
        store (FeatureStore): the images' features.
        images (list[LabeledImage]): the reviewed images (see :func:`reviewed_truth`).
        image_root (str): their folder.
        truth (list[tuple]): ``(image index, class, box)``.
    Returns:
        tuple[float, dict[float, float]]: the extent and the score of each tried extent.
    """
    before = model.settings['extent']
    scores = {}
    try:
        for extent in sorted(set(EXTENTS) | {before}):
            model.settings['extent'] = extent
            scores[extent] = _match_score(model, store, images, image_root, truth,
                                          f'refit extent {extent}')
    finally:
        model.settings['extent'] = before
    return _choose(scores, before), scores


def choose_level_quantile(model, store, images, image_root, truth, negatives):
    """The ``level_quantile`` of :data:`QUANTILES` whose levels (set on ``negatives``)
    give boxes on ``images`` that best match ``truth``, if it beats the current one by
    :data:`MIN_GAIN`; else the current one.

    Args:
        model (EvidenceModel): fitted; its ``settings['level_quantile']`` and ``levels``
            are restored.
        negatives (dict): :func:`~ppdet_wsd.evidence.fit.negative_maps` of the val images.
        (the rest as :func:`choose_extent`)
    Returns:
        tuple[float, dict[float, float]]: the quantile and the score of each tried one.
    """
    before, levels = model.settings['level_quantile'], model.levels
    scores = {}
    try:
        for quantile in sorted(set(QUANTILES) | {before}):
            model.settings['level_quantile'] = quantile
            model.levels = calibrate(model, None, negatives)
            scores[quantile] = _match_score(model, store, images, image_root, truth,
                                            f'refit level (quantile {quantile})')
    finally:
        model.settings['level_quantile'], model.levels = before, levels
    return _choose(scores, before), scores


@contextlib.contextmanager
def _distances_once(model):
    """Within the block, the normality distances (fine and coarse bank) of each image are
    computed once (the refit cuts the same images' maps many times)."""
    banks = [bank for bank in (model.bank, model.group_bank) if bank is not None]
    for bank in banks:
        bank.distances = _memoised(bank.distances)
    try:
        yield
    finally:
        for bank in banks:
            del bank.distances


def _memoised(search):
    """``search`` (descriptors -> map) remembering its answer per descriptor content."""
    memo = {}

    def distances(patches):
        key = hashlib.sha1(np.ascontiguousarray(patches).tobytes()).hexdigest()
        if key not in memo:
            memo[key] = search(patches)
        return memo[key]
    return distances


def refit_cut(model, store, images, image_root, review, val):
    """Set ``model``'s level quantile (and levels) and then its extent from the review
    when meaningful (module doc).

    Args:
        model (EvidenceModel): fitted; changed in place.
        store (FeatureStore): the features.
        images (list[LabeledImage]): the training images (those the review touched are
            used).
        image_root (str): their folder.
        review (dict): store format.
        val (list[tuple[ImageFeatures, np.ndarray]]): the val images the levels are set on.
    Returns:
        dict: ``refitted`` (bool), ``images`` (reviewed images with an accepted box),
        ``extent`` / ``extent_before``, ``level_quantile`` / ``level_quantile_before``
        (in use now / before), ``scores`` ({``extent`` / ``level_quantile``: {value: mean
        F1}}) or ``reason`` (why not refitted).
    """
    chosen, truth = reviewed_truth(review, images)
    result = {'refitted': False, 'images': len(chosen),
              'extent': model.settings['extent'], 'extent_before': model.settings['extent'],
              'level_quantile': model.settings['level_quantile'],
              'level_quantile_before': model.settings['level_quantile']}
    if len(chosen) < MIN_IMAGES:
        return dict(result, reason=f'fewer than {MIN_IMAGES} reviewed images with an accepted box')
    with _distances_once(model):
        negatives = negative_maps(model, val)
        quantile, quantile_scores = choose_level_quantile(model, store, chosen, image_root,
                                                          truth, negatives)
        model.settings['level_quantile'] = quantile
        model.levels = calibrate(model, None, negatives)
        extent, extent_scores = choose_extent(model, store, chosen, image_root, truth)
    model.settings['extent'] = extent
    return dict(result, refitted=True, extent=extent, level_quantile=quantile,
                scores={'level_quantile': {str(k): v for k, v in quantile_scores.items()},
                        'extent': {str(k): v for k, v in extent_scores.items()}})
