"""Detector outputs in ppdet's layout, as numpy arrays per image."""
import numpy as np

from .contrast import tighten_box


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


SMALL_BOX_STRIDES = 2.0  # a box under this many finest strides on both sides is sharpened


def sharpen_small_boxes(detections, image, stride):
    """Give the boxes the detector cannot place finer than its grid their edges from the
    image, in place: a box whose width and height are both under ``SMALL_BOX_STRIDES``
    strides of the detector's finest level is shrunk to the pixels inside it that stand
    out from the surface around it (:func:`~ppdet_wsd_runtime.contrast.tighten_box`),
    each side by at most half a stride. A 5-pixel spot inside an 8-pixel anchor's box
    then gets its own extent; larger boxes, and boxes where nothing stands out, are kept.

    Args:
        detections (np.ndarray): float32 ``[m, 6]`` (class, score, x1, y1, x2, y2 in the
            image's pixels).
        image (np.ndarray): the image, float or uint8, grey ``[H, W]`` or RGB
            ``[H, W, 3]`` (made grey only when a box is small).
        stride (float): the finest stride in the image's pixels (input stride / the
            image's resize scale), > 0.
    """
    small = np.flatnonzero((detections[:, 4] - detections[:, 2] < SMALL_BOX_STRIDES * stride)
                           & (detections[:, 5] - detections[:, 3] < SMALL_BOX_STRIDES * stride))
    if not len(small):
        return
    grey = image.mean(axis=2) if image.ndim == 3 else image
    for row in small:
        detections[row, 2:] = tighten_box(grey, detections[row, 2:], max_shrink=stride / 2)


def fit_boxes_to_image(detections, rgb, input_stride, scale_factor):
    """One image's detections made final, in place: clipped to the image
    (:func:`clip_boxes`) and the small ones sharpened (:func:`sharpen_small_boxes`).
    Every path that reports a detector's boxes (evaluation, prediction, the deploy
    runtime) calls this, so they report the same boxes.

    Args:
        detections (np.ndarray): float32 ``[m, 6]`` in the image's pixels.
        rgb (np.ndarray): the image, uint8 ``[H, W, 3]``.
        input_stride (float): the detector's finest stride in input pixels.
        scale_factor (array-like): the image's resize scales into the input ``[2]``
            (input / image pixels, as the readers set ``scale_factor``); the larger one
            turns the stride into image pixels.
    """
    clip_boxes(detections, *rgb.shape[:2])
    sharpen_small_boxes(detections, rgb, input_stride / float(np.max(scale_factor)))
