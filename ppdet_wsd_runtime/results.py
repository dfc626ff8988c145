"""One image's result as the deploy runner writes it (JSON-ready dicts).

The detector's own verdict rule is the evaluation's (``ppdet_wsd.metrics.detection_metric``):
a class's image score is the larger of the model's image probability and the class's best
box score, and an image is ``defective`` when some class's score reaches the exported
operating threshold. An export that carries the pipeline's verdict (:mod:`.verdict`) is
judged on that source's scores at its threshold (:func:`judged_result`).
"""
import numpy as np

from .detections import class_box_scores


GOOD, DEFECTIVE = 'good', 'defective'


def detector_class_scores(detections, im_score):
    """float32 ``[C]``: per class, max(image probability ``im_score`` ``[C]``, best score
    of the class's boxes in ``detections`` ``[m, 6]``)."""
    return np.maximum(im_score, class_box_scores([detections], len(im_score))[0])


def verdict_fields(scores, classes, threshold):
    """``verdict``, ``defect_score`` (the highest class score), ``found`` (classes whose
    score reaches ``threshold``) and ``scores`` ({class: score}) of one image."""
    found = [c for c, s in zip(classes, scores) if s >= threshold]
    return {'verdict': DEFECTIVE if found else GOOD, 'defect_score': float(np.max(scores)),
            'found': found, 'scores': {c: float(s) for c, s in zip(classes, scores)}}


def detection_result(path, detections, im_score, classes, threshold, min_box_score):
    """The result of one image of an exported detector.

    Args:
        path (str): the image file.
        detections (np.ndarray): float32 ``[m, 6]`` (class, score, x1, y1, x2, y2 in
            original pixels).
        im_score (np.ndarray): float32 ``[C]`` image probabilities.
        classes (list[str]): class names.
        threshold (float): the operating threshold of the verdict.
        min_box_score (float): boxes scored below it are left out of ``boxes`` (they
            still count for the verdict).
    Returns:
        dict: ``file``, :func:`verdict_fields`, ``boxes`` ([{'class', 'score', 'box':
        [x1, y1, x2, y2]}], best first).
    """
    scores = detector_class_scores(detections, im_score)
    return {'file': path, **verdict_fields(scores, classes, threshold),
            'boxes': box_list(detections, classes, min_box_score)}


def box_list(detections, classes, min_score=-np.inf):
    """``detections`` ``[m, 6]`` (class, score, x1, y1, x2, y2) scored >= ``min_score`` as
    JSON-ready ``[{'class', 'score', 'box': [x1, y1, x2, y2]}]``, best first (ties in
    their given order)."""
    shown = detections[detections[:, 1] >= min_score]
    return [{'class': classes[int(d[0])], 'score': float(d[1]),
             'box': [float(v) for v in d[2:]]}
            for d in shown[np.argsort(-shown[:, 1], kind='stable')]]


def judged_result(path, judged, classes, threshold, min_box_score):
    """The result of one image of an exported detector, judged by the export's verdict.

    Args:
        path (str): the image file.
        judged (dict): one item of
            :meth:`~ppdet_wsd_runtime.predictor.ExportedDetector.judge_samples`.
        classes (list[str]): class names.
        threshold (float): the verdict's threshold.
        min_box_score (float): boxes scored below it are left out of ``boxes``.
    Returns:
        dict: ``file``, :func:`verdict_fields` of the verdict source's scores, with the
        stage-1 classifier in the verdict ``source_scores`` ({'detector': {class: score},
        'classifier': {class: score}}), and ``boxes``.
    """
    result = {'file': path, **verdict_fields(judged['scores'], classes, threshold)}
    if judged['classifier_scores'] is not None:
        result['source_scores'] = {
            name: {c: float(s) for c, s in zip(classes, judged[f'{name}_scores'])}
            for name in ('detector', 'classifier')}
    result['boxes'] = box_list(judged['detections'], classes, min_box_score)
    return result


def classification_result(path, scores, classes, threshold):
    """The result of one image of an exported classifier: ``file`` and
    :func:`verdict_fields` of its class probabilities ``scores`` ``[C]``."""
    return {'file': path, **verdict_fields(scores, classes, threshold)}
