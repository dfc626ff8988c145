"""Localisation metrics: where is the defect, measured against boxes and masks.

Pure functions over numpy arrays; the ground truth comes from
:mod:`ppdet_wsd.data.ground_truth` (evaluation only). Conventions:

* boxes are float ``[N, 4]`` ``(x1, y1, x2, y2)`` in pixel-edge coordinates (a single
  pixel at column 3, row 5 is ``(3, 5, 4, 6)``); areas are continuous (no ``+ 1``);
* heat maps are float ``[H, W]`` already normalised to [0, 1] and resized to their
  image (see :mod:`ppdet_wsd_runtime.heatmap`);
* BoxAcc / MaxBoxAccV2 are in PERCENT (0..100, as in Choe et al., CVPR 2020); PxAP,
  pixel AUROC, CorLoc and COCO AP are fractions in [0, 1].
"""
import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import average_precision_score, roc_auc_score

from ..utils.contours import boxes_from_heatmap

IOU_THRESHOLDS = (0.3, 0.5, 0.7)
CAM_THRESHOLDS = np.arange(0, 1, 0.01)
PXAP_BINS = 1000
AGNOSTIC_CLASS = 'defect'


def box_iou(a, b):
    """Intersection over union of every box of ``a`` with every box of ``b``.

    Args:
        a (array-like): float ``[N, 4]`` xyxy boxes (pixel-edge coordinates).
        b (array-like): float ``[M, 4]`` xyxy boxes.
    Returns:
        np.ndarray: float64 ``[N, M]`` in [0, 1]; 0 where both boxes have no area.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


# ----------------------------------------------------------------------------- BoxAcc

def _check_box_inputs(heatmaps, gt_boxes, iou_thresholds):
    """Validate the shared arguments of the BoxAcc functions; returns deltas ``[D]``."""
    if len(heatmaps) != len(gt_boxes) or not heatmaps:
        raise ValueError(f'need one gt box list per heat map and at least one image; got '
                         f'{len(heatmaps)} maps and {len(gt_boxes)} box lists')
    for index, (heat, boxes) in enumerate(zip(heatmaps, gt_boxes)):
        if np.ndim(heat) != 2:
            raise ValueError(f'heat map {index} must be [H, W], got shape {np.shape(heat)}')
        if np.size(boxes) == 0:
            raise ValueError(f'image {index} has no gt box: leave images without '
                             f'localisation ground truth out of box metrics')
    deltas = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if deltas.size == 0 or (deltas <= 0).any() or (deltas > 1).any():
        raise ValueError(f'IoU thresholds must be in (0, 1], got {iou_thresholds}')
    return deltas


def _best_iou_per_threshold(heat, gt, cam_thresholds, all_contours):
    """Best IoU of any contour box with any gt box, per CAM threshold.

    Args:
        heat (np.ndarray): float ``[H, W]`` in [0, 1].
        gt (np.ndarray): float ``[G, 4]`` xyxy, G >= 1.
        cam_thresholds (np.ndarray): float ``[T]``.
        all_contours (bool): box every contour, or only the largest.
    Returns:
        np.ndarray: float64 ``[T]`` in [0, 1] (0 when nothing passes a threshold).
    """
    best = np.zeros(len(cam_thresholds))
    for t, threshold in enumerate(cam_thresholds):
        boxes = boxes_from_heatmap(heat, threshold, all_contours)
        if len(boxes):
            best[t] = box_iou(boxes, gt).max()
    return best


def box_acc_table(heatmaps, gt_boxes, cam_thresholds=CAM_THRESHOLDS,
                  iou_thresholds=IOU_THRESHOLDS, all_contours=True):
    """BoxAcc for every (CAM threshold, IoU threshold) pair.

    An image is correct at ``(thr, delta)`` when any box of a contour of
    ``heat > thr`` has IoU >= ``delta`` with any of its gt boxes (foreground is strictly
    above the threshold, as in Choe et al. and
    :func:`~ppdet_wsd.utils.contours.boxes_from_heatmap`).

    Args:
        heatmaps (list[np.ndarray]): float ``[H_i, W_i]`` in [0, 1], one per image,
            aligned with the image.
        gt_boxes (list[array-like]): float ``[G_i, 4]`` xyxy per image, ``G_i >= 1``
            (the caller leaves out images without localisation ground truth).
        cam_thresholds (array-like): float ``[T]`` thresholds on the map.
        iou_thresholds (Iterable[float]): ``D`` IoU thresholds in (0, 1].
        all_contours (bool): box every contour (several defects) or only the largest.
    Returns:
        np.ndarray: float64 ``[T, D]`` BoxAcc in percent (0..100).
    Raises:
        ValueError: lengths differ, no image, a map is not 2-D, an image has no gt
            box, or an IoU threshold is outside (0, 1].
    """
    deltas = _check_box_inputs(heatmaps, gt_boxes, iou_thresholds)
    cam_thresholds = np.asarray(cam_thresholds, dtype=np.float64).reshape(-1)
    best = np.stack([_best_iou_per_threshold(np.asarray(heat), np.asarray(gt, np.float64),
                                             cam_thresholds, all_contours)
                     for heat, gt in zip(heatmaps, gt_boxes)], axis=1)  # [T, N]
    return 100.0 * (best[:, :, None] >= deltas[None, None, :]).mean(axis=1)


def max_box_acc_v2(heatmaps, gt_boxes, iou_thresholds=IOU_THRESHOLDS,
                   cam_thresholds=CAM_THRESHOLDS, all_contours=True):
    """MaxBoxAccV2 (Choe et al., CVPR 2020): best-threshold BoxAcc averaged over IoUs.

    For each IoU threshold ``delta``, MaxBoxAcc(delta) is the maximum over CAM
    thresholds of BoxAcc (share of images where some contour box has IoU >= delta
    with some gt box); MaxBoxAccV2 is their mean. The CAM threshold is chosen on the
    evaluated images' own boxes, so this is an upper bound for a weak pipeline,
    whose threshold must come from a box-free rule or a few-box val set
    (:func:`box_acc_at`). Arguments are those of :func:`box_acc_table`.

    Returns:
        dict: ``maxboxacc_v2`` (float, percent 0..100), ``per_iou``
        ({delta: MaxBoxAcc percent}) and ``best_threshold`` ({delta: the lowest CAM
        threshold reaching it}).
    """
    table = box_acc_table(heatmaps, gt_boxes, cam_thresholds, iou_thresholds, all_contours)
    cam_thresholds = np.asarray(cam_thresholds, dtype=np.float64).reshape(-1)
    best = table.argmax(axis=0)
    per_iou = {float(d): float(table[b, i]) for i, (d, b) in enumerate(zip(iou_thresholds, best))}
    return {'maxboxacc_v2': float(np.mean(list(per_iou.values()))),
            'per_iou': per_iou,
            'best_threshold': {float(d): float(cam_thresholds[b])
                               for d, b in zip(iou_thresholds, best)}}


def box_acc_at(heatmaps, gt_boxes, threshold, iou_thresholds=IOU_THRESHOLDS,
               all_contours=True):
    """BoxAcc at ONE CAM threshold chosen beforehand (box-free rule or few-box val set).

    Arguments are those of :func:`box_acc_table` with a single ``threshold`` (float).

    Returns:
        dict: ``box_acc`` (float, mean over IoU thresholds, percent 0..100),
        ``per_iou`` ({delta: BoxAcc percent}) and ``threshold``.
    """
    row = box_acc_table(heatmaps, gt_boxes, [threshold], iou_thresholds, all_contours)[0]
    per_iou = {float(d): float(acc) for d, acc in zip(iou_thresholds, row)}
    return {'box_acc': float(row.mean()), 'per_iou': per_iou, 'threshold': float(threshold)}


# ----------------------------------------------------------------------------- pixels

def _pixel_histograms(heatmaps, masks, bins):
    """Counts of defect and background pixels per score bin, pooled over images.

    Returns:
        tuple[np.ndarray, np.ndarray]: int64 ``[bins]`` each; bin ``k`` holds scores
        in ``[k / bins, (k + 1) / bins)`` (1.0 goes into the last bin).
    """
    positives = np.zeros(bins, dtype=np.int64)
    negatives = np.zeros(bins, dtype=np.int64)
    for index, (heat, mask) in enumerate(zip(heatmaps, masks)):
        heat, mask = np.asarray(heat), np.asarray(mask, dtype=bool)
        if heat.shape != mask.shape or heat.ndim != 2:
            raise ValueError(f'image {index}: map {heat.shape} and mask {mask.shape} must '
                             f'be the same [H, W]')
        level = np.clip((heat * bins).astype(np.int64), 0, bins - 1)
        positives += np.bincount(level[mask], minlength=bins)
        negatives += np.bincount(level[~mask], minlength=bins)
    return positives, negatives


def pxap(heatmaps, masks, bins=PXAP_BINS):
    """Pixel average precision: area under the pixel precision-recall curve.

    All pixels of all images are pooled. To keep memory flat (300 images of 150k
    pixels would be 45M scores), scores are quantised into ``bins`` equal bins of
    [0, 1] and scikit-learn's ``average_precision_score`` / ``roc_auc_score`` run on
    the bin counts as sample weights: the result is exact for the quantised scores
    (pixels in one bin are ties), like Choe et al.'s threshold sweep.

    Args:
        heatmaps (list[np.ndarray]): float ``[H_i, W_i]`` in [0, 1] (values outside
            are clipped into the first / last bin).
        masks (list[np.ndarray]): bool ``[H_i, W_i]``, True on defect pixels.
        bins (int): number of score bins.
    Returns:
        dict: ``pxap`` (float in [0, 1]) and ``pixel_auroc`` (float in [0, 1], or
        ``None`` when every pixel is a defect pixel).
    Raises:
        ValueError: lengths or shapes differ, or no mask has a defect pixel (AP is
            undefined).
    """
    if len(heatmaps) != len(masks):
        raise ValueError(f'{len(heatmaps)} maps but {len(masks)} masks')
    positives, negatives = _pixel_histograms(heatmaps, masks, bins)
    if positives.sum() == 0:
        raise ValueError('no defect pixel in any mask: PxAP is undefined')
    levels = np.arange(bins)
    keep_p, keep_n = positives > 0, negatives > 0
    y_true = np.concatenate([np.ones(keep_p.sum()), np.zeros(keep_n.sum())])
    y_score = np.concatenate([levels[keep_p], levels[keep_n]])
    weight = np.concatenate([positives[keep_p], negatives[keep_n]])
    auroc = (float(roc_auc_score(y_true, y_score, sample_weight=weight))
             if keep_n.any() else None)
    return {'pxap': float(average_precision_score(y_true, y_score, sample_weight=weight)),
            'pixel_auroc': auroc}


# ----------------------------------------------------------------------------- detections

def corloc(pred_boxes, gt_boxes, iou=0.5):
    """Correct localisation: is the top-scoring box of each present class right?

    A pair (image, class) exists when the class has at least one gt box in the
    image. It is correct when the highest-scoring predicted box of that class (first
    one on ties) has IoU >= ``iou`` with some gt box of that class; a pair with no
    prediction is wrong. Predictions of absent classes are ignored (CorLoc does not
    see false positives; use :func:`coco_box_map` for that).

    Args:
        pred_boxes (list[dict]): per image, ``{class: (boxes, scores)}`` with float
            ``[K, 4]`` xyxy boxes and float ``[K]`` scores.
        gt_boxes (list[dict]): per image, ``{class: boxes}`` float ``[G, 4]`` xyxy.
        iou (float): IoU needed, in (0, 1].
    Returns:
        dict: ``corloc`` (float in [0, 1], mean over pairs; ``None`` without pairs),
        ``per_class`` ({class: float in [0, 1]} for classes with a pair) and
        ``num_pairs`` (int).
    """
    if len(pred_boxes) != len(gt_boxes):
        raise ValueError(f'{len(pred_boxes)} prediction dicts but {len(gt_boxes)} gt dicts')
    hits = {}
    for preds, gts in zip(pred_boxes, gt_boxes):
        for name, gt in gts.items():
            gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
            if not len(gt):
                continue
            boxes, scores = preds.get(name, (np.zeros((0, 4)), np.zeros(0)))
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            correct = bool(len(boxes)) and box_iou(
                boxes[int(np.argmax(scores))], gt).max() >= iou
            hits.setdefault(name, []).append(correct)
    pairs = [hit for values in hits.values() for hit in values]
    return {'corloc': float(np.mean(pairs)) if pairs else None,
            'per_class': {name: float(np.mean(values)) for name, values in sorted(hits.items())},
            'num_pairs': len(pairs)}


def _xywh(box):
    """xyxy -> COCO ``[x, y, w, h]`` list of floats."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _coco(images, names, annotations):
    """An in-memory pycocotools ``COCO`` holding ``images``, categories ``1..C`` named
    ``names`` and ``annotations`` (index built silently)."""
    coco = COCO()
    coco.dataset = {'images': images, 'annotations': annotations,
                    'categories': [{'id': i + 1, 'name': n} for i, n in enumerate(names)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _category_of(names, class_agnostic):
    """A function class name -> COCO category id (1-based), ValueError if unknown."""
    ids = {name: i + 1 for i, name in enumerate(names)}

    def category(name):
        if class_agnostic:
            return 1
        if name not in ids:
            raise ValueError(f'class "{name}" is not one of {list(names)}')
        return ids[name]
    return category


def _gt_annotations(images, category):
    """COCO image entries and gt annotations of ``[(file, GroundTruthImage)]``."""
    entries, annotations = [], []
    for image_id, (file, record) in enumerate(images, start=1):
        entries.append({'id': image_id, 'file_name': file, 'height': record.height,
                        'width': record.width})
        for box, label in zip(record.boxes, record.labels):
            xywh = _xywh(box)
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id,
                                'category_id': category(label), 'bbox': xywh,
                                'area': xywh[2] * xywh[3], 'iscrowd': 0})
    return entries, annotations


def _dt_annotations(predictions, image_ids, excluded, category):
    """COCO result annotations of ``predictions`` on the evaluated images."""
    annotations = []
    for prediction in predictions:
        file = prediction['file']
        if file in excluded:
            continue
        if file not in image_ids:
            raise ValueError(f'prediction for "{file}", which is not in the ground truth')
        xywh = _xywh(prediction['box'])
        annotations.append({'id': len(annotations) + 1, 'image_id': image_ids[file],
                            'category_id': category(prediction['class']), 'bbox': xywh,
                            'area': xywh[2] * xywh[3], 'iscrowd': 0,
                            'score': float(prediction['score'])})
    return annotations


def _ap50_per_category(evaluator, names):
    """AP at IoU 0.5 (all areas, 100 detections) per category; ``None`` without gt."""
    precision = evaluator.eval['precision'][0, :, :, 0, -1]  # [recall points, C]
    return {name: (None if (precision[:, k] < 0).all() else float(precision[:, k].mean()))
            for k, name in enumerate(names)}


def _evaluate(entries, names, gt_annotations, dt_annotations):
    """A finished pycocotools ``COCOeval`` of the detections against the gt (silent)."""
    evaluator = COCOeval(_coco(entries, names, gt_annotations),
                         _coco(entries, names, dt_annotations), 'bbox')
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _ap50_per_type(entries, gt_annotations, gt_types, dt_annotations):
    """Class-agnostic AP50 per true box type: the boxes of the other types are marked
    ``iscrowd`` (a detection matching one is neither right nor wrong; COCO's crowd
    overlap is intersection over the detection's area), so each type's AP measures how
    the one-class detections find that type. ``{type: AP50}``."""
    out = {}
    for name in sorted(set(gt_types)):
        gt = [dict(a, iscrowd=int(t != name)) for a, t in zip(gt_annotations, gt_types)]
        out[name] = _ap50_per_category(_evaluate(entries, [AGNOSTIC_CLASS], gt,
                                                 dt_annotations), [AGNOSTIC_CLASS])[AGNOSTIC_CLASS]
    return out


def coco_box_map(predictions, ground_truth, classes, class_agnostic=False):
    """COCO box AP of detections via pycocotools, built in memory.

    Only images with ``loc_gt`` true are evaluated; good images among them have no
    gt box, so any detection there is a false positive that lowers precision.
    Predictions on ``loc_gt: false`` images are dropped. COCO keeps at most the 100
    highest-scoring detections per image and class, and interpolates precision at
    101 recall points.

    Args:
        predictions (list[dict]): ``{'file': str, 'class': str, 'box': [x1, y1, x2,
            y2] (pixel-edge), 'score': float}``.
        ground_truth (dict[str, GroundTruthImage]): from
            :func:`ppdet_wsd.data.ground_truth.load_ground_truth`, restricted to the
            evaluated split.
        classes (list[str]): defect class names (the COCO categories).
        class_agnostic (bool): map every class to one category named
            ``AGNOSTIC_CLASS`` (a box of the wrong class still counts; the gt box
            names need not be ``classes``, e.g. image labels coarser than the boxes).
    Returns:
        dict: ``map50`` and ``map50_95`` (floats in [0, 1], mean over categories with
        gt; ``None`` when there is no gt box at all), ``per_class_ap50`` ({class: AP50
        or ``None`` when the class has no gt box}), ``num_images``, ``num_gt_boxes``,
        ``num_predictions`` (counted on evaluated images); class-agnostic also
        ``per_type_ap50`` ({true box type: AP50 of the one-class detections against
        that type's boxes, see :func:`_ap50_per_type`}).
    Raises:
        ValueError: no image with ``loc_gt``, a class not in ``classes`` (class-aware
            only), or a prediction for a file that is not in ``ground_truth``.
    """
    names = [AGNOSTIC_CLASS] if class_agnostic else list(classes)
    category = _category_of(names, class_agnostic)
    images = [(file, record) for file, record in ground_truth.items() if record.loc_gt]
    if not images:
        raise ValueError('no image with localisation ground truth (loc_gt) to evaluate')
    entries, gt_annotations = _gt_annotations(images, category)
    image_ids = {file: entry['id'] for (file, _), entry in zip(images, entries)}
    excluded = {file for file, record in ground_truth.items() if not record.loc_gt}
    dt_annotations = _dt_annotations(predictions, image_ids, excluded, category)
    evaluator = _evaluate(entries, names, gt_annotations, dt_annotations)
    map50_95, map50 = (float(v) for v in evaluator.stats[:2])
    result = {'map50': map50 if map50 >= 0 else None,
              'map50_95': map50_95 if map50_95 >= 0 else None,
              'per_class_ap50': _ap50_per_category(evaluator, names),
              'num_images': len(images), 'num_gt_boxes': len(gt_annotations),
              'num_predictions': len(dt_annotations)}
    if class_agnostic:
        types = [label for _, record in images for label in record.labels]
        result['per_type_ap50'] = _ap50_per_type(entries, gt_annotations, types,
                                                 dt_annotations)
    return result
