"""Detector outputs in ppdet's layout, as numpy arrays per image."""
import numpy as np


def split_detections(bbox, bbox_num):
    """ppdet's flat ``bbox`` ``[M, 6]`` and ``bbox_num`` ``[B]`` as one ``[m_i, 6]``
    array per image (class, score, x1, y1, x2, y2). ppdet pads an image without any
    detection with one row of class -1; such rows are dropped."""
    bbox, counts = np.asarray(bbox).reshape(-1, 6), np.asarray(bbox_num).reshape(-1)
    parts = np.split(bbox, np.cumsum(counts)[:-1]) if len(counts) else []
    return [p[p[:, 0] >= 0] for p in parts]


def clip_boxes(detections, height, width):
    """Clip ``detections`` ``[m, 6]`` boxes to the image, in place (RetinaHead does not)."""
    detections[:, [2, 4]] = detections[:, [2, 4]].clip(0, width)
    detections[:, [3, 5]] = detections[:, [3, 5]].clip(0, height)


def class_box_scores(detections, num_classes):
    """Per class, the best detection score of each image: float32 ``[N, C]`` (0 when
    the image has no detection of that class). ``detections``: one ``[m, 6]`` array
    (class, score, x1, y1, x2, y2) per image."""
    out = np.zeros((len(detections), num_classes), np.float32)
    for i, det in enumerate(detections):
        for cls, score in det[:, :2]:
            out[i, int(cls)] = max(out[i, int(cls)], score)
    return out
