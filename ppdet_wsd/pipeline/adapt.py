"""Settings the pipeline derives from the data instead of asking the user.

* The detector's input canvas from the images' sizes
  (:func:`ppdet_wsd.evidence.geometry.choose_canvas`).
* The detector's anchor sizes and shapes from the **pseudo boxes** (never from true
  boxes), so small-defect and large-defect datasets get anchors that can match their
  training boxes (:func:`anchor_prior`).
* The detector's schedule from a budget of optimiser steps, so a line with few defective
  images trains as long as one with many and a large line does not train for hours
  (:func:`step_schedule`).
"""
import json

import numpy as np
from PIL import Image

from ppdet_wsd_runtime.letterbox import letterbox_scale


READERS = ('TrainReader', 'EvalReader', 'TestReader')
BASE_ASPECTS = (0.5, 1.0, 2.0)


def image_sizes(paths):
    """``[N, 2]`` int array of (height, width), read from the file headers only."""
    sizes = []
    for path in paths:
        with Image.open(path) as im:
            sizes.append((im.height, im.width))
    return np.array(sizes, dtype=np.int64).reshape(-1, 2)


def set_input_canvas(cfg, canvas):
    """Point every ``LetterboxResize`` of the readers (and the export input shape) at
    ``canvas`` ``[H, W]``."""
    for reader in READERS:
        for transform in (cfg.get(reader) or {}).get('sample_transforms', []):
            if 'LetterboxResize' in transform:
                transform['LetterboxResize']['canvas'] = list(canvas)
    inputs_def = (cfg.get('TestReader') or {}).get('inputs_def')
    if inputs_def and 'image_shape' in inputs_def:
        inputs_def['image_shape'] = [3] + list(canvas)


def pseudo_box_shapes(boxes_file, canvas):
    """Side (``sqrt(w*h)``) and aspect (``h/w``) of every pseudo box, in input pixels
    (each image scaled into ``canvas`` ``[H, W]`` with its aspect kept).

    Returns:
        tuple[np.ndarray, np.ndarray]: float ``[M]`` sides and ``[M]`` aspects.
    """
    with open(boxes_file, encoding='utf-8') as f:
        coco = json.load(f)
    images = {im['id']: im for im in coco['images']}
    sides, aspects = [], []
    for ann in coco['annotations']:
        im = images[ann['image_id']]
        scale = letterbox_scale(im['height'], im['width'], canvas)
        w, h = ann['bbox'][2] * scale, ann['bbox'][3] * scale
        if w > 0 and h > 0:
            sides.append(np.sqrt(w * h))
            aspects.append(h / w)
    return np.array(sides, np.float64), np.array(aspects, np.float64)


def anchor_prior(sides, aspects, smallest_stride, default_scale, min_boxes=20):
    """Anchor settings for RetinaNet from pseudo-box shapes.

    ``octave_base_scale`` makes the smallest anchor (``smallest_stride * scale``) about the
    10th percentile of the box sides (between 1 and 8 strides); aspect ratios 1/4 and 4
    join the base (1/2, 1, 2) when more than a fifth of the boxes are that elongated.

    Returns:
        dict: ``octave_base_scale`` (float), ``aspect_ratios`` (list), ``num_boxes``,
        ``side_p10`` / ``side_median`` (input pixels, None without boxes), ``used``
        (False when fewer than ``min_boxes`` boxes: the config's values are kept).
    """
    prior = {'num_boxes': int(len(sides)), 'side_p10': None, 'side_median': None,
             'octave_base_scale': float(default_scale), 'aspect_ratios': list(BASE_ASPECTS),
             'used': False}
    if len(sides) < min_boxes:
        return prior
    p10 = float(np.percentile(sides, 10))
    ratios = list(BASE_ASPECTS)
    if np.mean(aspects <= 1 / 3) > 0.2:
        ratios.insert(0, 0.25)
    if np.mean(aspects >= 3) > 0.2:
        ratios.append(4.0)
    prior.update(side_p10=p10, side_median=float(np.median(sides)), aspect_ratios=ratios,
                 octave_base_scale=float(np.clip(p10 / smallest_stride, 1.0, 8.0)), used=True)
    return prior


def step_schedule(steps, steps_per_epoch, epochs, snapshot_epoch, refinement):
    """Epoch settings that train for about ``steps`` optimiser steps, with the snapshot
    and refinement epochs scaled by the same factor as the epochs (so re-mining starts
    at the same share of training).

    Args:
        steps (int): the budget, > 0.
        steps_per_epoch (int): optimiser steps of one epoch, > 0.
        epochs, snapshot_epoch (int): the stage config's values.
        refinement (dict): its ``Refinement`` section (``start_epoch``, ``interval``).
    Returns:
        dict: config overrides ``epoch`` (at least 2), ``snapshot_epoch`` and
        ``Refinement: {start_epoch, interval}`` (each at least 1).
    """
    new = max(2, int(round(steps / steps_per_epoch)))
    factor = new / epochs

    def scaled(value):
        return max(1, int(round(value * factor)))
    return {'epoch': new, 'snapshot_epoch': scaled(snapshot_epoch),
            'Refinement': {'start_epoch': scaled(refinement['start_epoch']),
                           'interval': scaled(refinement['interval'])}}
