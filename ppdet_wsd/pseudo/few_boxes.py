"""The explicit "few boxes" mode: per-class CAM thresholds chosen on N boxed val images.

This is the only place where ground-truth boxes influence pseudo boxes, and only
when a config asks for it (``PseudoBoxes.few_boxes: N``). The images come from the
``val`` split (never test), at most N per class, and their number is recorded as
``few_boxes_used`` in every output and report (the protocol of Choe et al., CVPR 2020).
"""

import numpy as np
import paddle

from ppdet_wsd_runtime.heatmap import normalise_map

from ..data.ground_truth import load_ground_truth
from ..data.labels import file_key
from ..metrics.localization import box_acc_table
from .align import align_to_original

THRESHOLDS = np.arange(0.05, 1.0, 0.05)


def attach_truth(records, dataset_dir, image_root):
    """Copies of ``records`` with ``gt``: the image's ``GroundTruthImage`` or None.

    Raises:
        FileNotFoundError: the dataset has no ``annotations.json``.
    """
    truth = load_ground_truth(dataset_dir)
    if truth is None:
        raise FileNotFoundError(f'{dataset_dir}: the few-boxes mode needs annotations.json')
    return [dict(r, gt=truth.get(file_key(r['im_file'], image_root))) for r in records]


def pick_boxed_images(records, classes, per_class, seed=0):
    """Up to ``per_class`` records per class that carry box truth for that class.

    Args:
        records (list[dict]): records with ``img_label`` and ``gt`` (see :func:`attach_truth`).
        classes (list[str]): class names.
        per_class (int): N.
        seed (int): which of the usable images are drawn.
    Returns:
        dict[int, list[int]]: class index -> indices into ``records`` (sorted).
    """
    rng = np.random.RandomState(seed)
    picked = {}
    for c, name in enumerate(classes):
        usable = [i for i, r in enumerate(records) if r['img_label'][c] > 0.5
                  and r['gt'] is not None and r['gt'].loc_gt and name in r['gt'].labels]
        picked[c] = sorted(usable[k] for k in rng.permutation(len(usable))[:per_class])
    return picked


def _class_heat(cam_method, transforms, record, class_id):
    """The normalised map ``[h, w]`` of one class, aligned with the original image."""
    sample = transforms(dict(record))
    maps = cam_method(paddle.to_tensor(sample['image'][None]), classes=[class_id]).maps[0]
    return normalise_map(align_to_original(maps, sample['im_shape'], (sample['h'], sample['w']))[0])


def choose_class_thresholds(cam_method, transforms, records, classes, per_class,
                            all_contours=True, seed=0):
    """Per-class thresholds (fraction of the map max) that maximise BoxAcc (mean over
    IoU 0.3 / 0.5 / 0.7) on at most ``per_class`` boxed images of each class.

    Args:
        cam_method: a ``ppdet_wsd.cam`` method.
        transforms (callable): the evaluation reader's sample transforms.
        records (list[dict]): val records with ``gt`` (see :func:`attach_truth`).
        classes (list[str]): class names in model output order.
    Returns:
        tuple[dict[str, float], int]: a threshold for each class that had boxed images,
        and the number of distinct images used.
    """
    thresholds, used = {}, set()
    for c, indices in pick_boxed_images(records, classes, per_class, seed).items():
        if not indices:
            continue
        heat = [_class_heat(cam_method, transforms, records[i], c) for i in indices]
        gt = [records[i]['gt'].boxes[np.array(records[i]['gt'].labels) == classes[c]]
              for i in indices]
        score = box_acc_table(heat, gt, THRESHOLDS, all_contours=all_contours).mean(axis=1)
        thresholds[classes[c]] = round(float(THRESHOLDS[int(np.argmax(score))]), 2)
        used.update(indices)
    return thresholds, len(used)
