"""``DetectionMetric``: a detector's boxes and image verdicts inside ppdet's evaluation loop."""

import numpy as np
from ppdet.metrics import Metric
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.detections import (class_box_scores, clip_boxes, fit_boxes_to_image,
                                          split_detections)
from ppdet_wsd_runtime.image_io import read_image_rgb

from ..data.labels import file_key
from .box_mode import CLASS_AGNOSTIC, NO_BOXES, box_evaluation_mode
from .image_level import format_report, image_level_report
from .localization import coco_box_map

logger = setup_logger(__name__)


def verdict_report(labels, scores, classes, threshold):
    """The image-level numbers of one defect-score source (see :func:`image_level_report`)."""
    report = image_level_report(labels, scores, classes, threshold)
    return {k: report[k] for k in ('image_auroc', 'image_ap', 'good_bad_accuracy',
                                   'miss_rate', 'overkill_rate')}


def box_report(predictions, ground_truth, classes, mode):
    """Box mAP of ``predictions`` in the box evaluation ``mode`` (:mod:`.box_mode`).

    Returns:
        dict: ``box_mode``, ``det_map50``, ``det_map50_95``, ``det_map50_agnostic``,
        ``boxes`` (the :func:`coco_box_map` result of the mode: class-aware, or
        class-agnostic with ``per_type_ap50``) and ``boxes_agnostic``; only
        ``box_mode`` for ``none``.
    """
    if mode == NO_BOXES:
        return {'box_mode': mode}
    agnostic = coco_box_map(predictions, ground_truth, classes, class_agnostic=True)
    boxes = agnostic if mode == CLASS_AGNOSTIC else coco_box_map(predictions, ground_truth,
                                                                 classes)
    return {'box_mode': mode, 'boxes': boxes, 'boxes_agnostic': agnostic,
            'det_map50': boxes['map50'], 'det_map50_95': boxes['map50_95'],
            'det_map50_agnostic': agnostic['map50']}


def detection_report(labels, im_scores, detections, classes, threshold, files=None,
                     ground_truth=None, box_mode=None):
    """Measure a detector on one split.

    The image verdict: an image is defective when, for some class, the MIL image
    probability or that class's best detection score reaches ``threshold``.

    Args:
        labels (np.ndarray): ``[N, C]`` multi-hot image labels.
        im_scores (np.ndarray): float ``[N, C]`` image probabilities (``im_score``).
        detections (list[np.ndarray]): ``[m_i, 6]`` per image, original pixels.
        classes (list[str]): class names.
        threshold (float): the operating threshold of the verdict.
        files (list[str] | None): ``file_name`` of each image (as in the ground truth).
        ground_truth (dict | None): :func:`load_ground_truth` output for these files;
            when given, COCO box mAP is added. EVALUATION ONLY.
        box_mode (str | None): the box evaluation mode (:mod:`.box_mode`); None
            decides it from ``classes`` and ``ground_truth``.
    Returns:
        dict: :func:`image_level_report` of the verdict score (``image_auroc``,
        ``image_ap``, ``miss_rate``, ``overkill_rate``, ...), ``verdict_sources``
        ({'mil': ..., 'detections': ...} the same numbers from each source alone),
        ``defective`` / ``defect_scores`` (per image, for other operating points),
        ``labels`` / ``class_scores`` (``[N, C]`` lists, for a per-class threshold),
        ``files`` (when given), and with ground truth the :func:`box_report` keys.
    """
    box_scores = class_box_scores(detections, len(classes))
    scores = np.maximum(im_scores, box_scores)
    report = image_level_report(labels, scores, classes, threshold)
    report['defective'] = (np.asarray(labels) > 0.5).any(axis=1).tolist()
    report['defect_scores'] = scores.max(axis=1).astype(float).tolist()
    report['labels'] = (np.asarray(labels) > 0.5).astype(int).tolist()
    report['class_scores'] = scores.astype(float).tolist()
    report['verdict_sources'] = {
        'mil': verdict_report(labels, im_scores, classes, threshold),
        'detections': verdict_report(labels, box_scores, classes, threshold)}
    report['num_detections'] = int(sum(len(d) for d in detections))
    if files is not None:
        report['files'] = list(files)
    if ground_truth:
        predictions = [{'file': f, 'class': classes[int(row[0])], 'box': row[2:].tolist(),
                        'score': float(row[1])}
                       for f, det in zip(files, detections) for row in det]
        mode = box_mode or box_evaluation_mode(classes, ground_truth)['mode']
        report.update(box_report(predictions, ground_truth, classes, mode))
    return report


class DetectionMetric(Metric):
    """Collects ``bbox``/``bbox_num``/``im_score`` of a ``RetinaNetMIL`` and the
    batch's ``im_id``/``img_label``; ``get_results()`` is :func:`detection_report`.

    Args:
        dataset (ImageLabelDataSet): the evaluated dataset (maps ``im_id`` to files).
        classes (list[str]): class names.
        threshold (float): verdict threshold.
        ground_truth_loader (callable | None): ``files -> ground truth dict or None``;
            None (during training) measures image labels only. Model selection
            compares :func:`~ppdet_wsd.metrics.image_level.selection_score`, never box
            metrics.
        box_mode (str | None): the box evaluation mode (:mod:`.box_mode`); None
            decides it from the classes and the loaded ground truth.
        finest_stride (float): the detector's finest stride in input pixels: with box
            metrics, the boxes are made final as every prediction path makes them
            (:func:`~ppdet_wsd_runtime.detections.fit_boxes_to_image`).
    """
    primary_key = 'image_ap'

    def __init__(self, dataset, classes, threshold=0.5, ground_truth_loader=None,
                 box_mode=None, finest_stride=8.0):
        self.dataset, self.classes, self.threshold = dataset, list(classes), threshold
        self.ground_truth_loader = ground_truth_loader
        self.box_mode = box_mode
        self.finest_stride = float(finest_stride)
        self.reset()

    def reset(self):
        self.im_ids, self.labels, self.im_scores, self.detections = [], [], [], []
        self.scale_factors = []
        self.results = {}

    def update(self, inputs, outputs):
        self.im_ids += np.asarray(inputs['im_id']).reshape(-1).tolist()
        self.scale_factors += list(np.asarray(inputs['scale_factor']).reshape(-1, 2))
        self.labels.append(np.asarray(inputs['img_label']))
        self.im_scores.append(np.asarray(outputs['im_score']))
        self.detections += split_detections(np.asarray(outputs['bbox']),
                                            np.asarray(outputs['bbox_num']))

    def accumulate(self):
        self.dataset.parse_dataset()
        by_id = {int(np.asarray(r['im_id']).reshape(-1)[0]): r for r in self.dataset.roidbs}
        records = [by_id[i] for i in self.im_ids]
        files = [file_key(r['im_file'], self.dataset.image_root) for r in records]
        truth = self.ground_truth_loader(files) if self.ground_truth_loader else None
        for record, det, scale_factor in zip(records, self.detections, self.scale_factors):
            if truth:  # the boxes are measured: their final edges need the image
                fit_boxes_to_image(det, read_image_rgb(record['im_file']), self.finest_stride,
                                   scale_factor)
            else:
                clip_boxes(det, record['h'], record['w'])
        self.results = detection_report(np.concatenate(self.labels),
                                        np.concatenate(self.im_scores), self.detections,
                                        self.classes, self.threshold, files, truth,
                                        self.box_mode)

    def log(self):
        r = self.results
        text = 'detector evaluation (verdict: MIL or detection score >= ' \
               f'{self.threshold})\n' + format_report(r)
        for source, numbers in r['verdict_sources'].items():
            text += (f'\n  {source:<11} alone: miss {numbers["miss_rate"]}  '
                     f'over-kill {numbers["overkill_rate"]}  AUROC {numbers["image_auroc"]}')
        if 'det_map50' in r:
            text += (f'\n  boxes ({r["box_mode"]}): mAP@0.5 {r["det_map50"]}  mAP@[.5:.95] {r["det_map50_95"]}  '
                     f'class-agnostic mAP@0.5 {r["det_map50_agnostic"]}')
        logger.info(text)

    def get_results(self):
        return self.results
