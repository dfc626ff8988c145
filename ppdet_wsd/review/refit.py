"""Refit the pseudo-box cut on reviewed images: the ``extent`` (how far a box reaches
from its peak, ``PatchEvidence.extent``) that best reproduces the boxes a person accepted.

Meaningful only with enough reviewed boxes: with fewer than :data:`MIN_IMAGES` reviewed
images holding an accepted box the setting stays as it was (and the stage says so), and
another extent replaces the current one only when it matches the accepted boxes clearly
better (by :data:`MIN_GAIN` mean F1): on a dozen images a smaller difference is noise (on
the demo, 0.4 beat 0.5 by 0.001 on 15 images and lost on the 111 others). The
level a region must pass stays the one set on good val images: a person's decisions on a
few dozen defective images say how big a defect is far better than how rare it is.
"""
import numpy as np

from ..evidence.run import evidence_results
from ..metrics.localization import box_iou

EXTENTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
IOUS = (0.3, 0.5, 0.7)
MIN_IMAGES = 3
MIN_GAIN = 0.02  # mean F1 another extent must gain over the current one to replace it


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
            predicted = [(i, b['class'], b['box']) for i, r in enumerate(evidence_results(
                model, store, images, image_root, desc=f'refit extent {extent}'))
                for b in r['boxes']]
            scores[extent] = float(np.mean([match_f1(predicted, truth, t) for t in IOUS]))
    finally:
        model.settings['extent'] = before
    best = max(scores, key=lambda e: (round(scores[e], 9), e == before))
    return (best if scores[best] >= scores[before] + MIN_GAIN else before), scores


def refit_extent(model, store, images, image_root, review):
    """Set ``model.settings['extent']`` from the review when meaningful (module doc).

    Args:
        images (list[LabeledImage]): the training images (those the review touched are
            used).
    Returns:
        dict: ``refitted`` (bool), ``extent`` (in use now), ``extent_before``,
        ``images`` (reviewed images with an accepted box), ``scores`` ({extent: mean
        F1}) or ``reason`` (why not refitted).
    """
    chosen, truth = reviewed_truth(review, images)
    before = model.settings['extent']
    if len(chosen) < MIN_IMAGES:
        return {'refitted': False, 'extent': before, 'extent_before': before,
                'images': len(chosen),
                'reason': f'fewer than {MIN_IMAGES} reviewed images with an accepted box'}
    extent, scores = choose_extent(model, store, chosen, image_root, truth)
    model.settings['extent'] = extent
    return {'refitted': True, 'extent': extent, 'extent_before': before,
            'images': len(chosen), 'scores': {str(k): v for k, v in scores.items()}}
