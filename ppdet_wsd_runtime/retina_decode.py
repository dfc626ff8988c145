"""ppdet ``RetinaHead.post_process`` in numpy: a detector graph's raw head outputs
(:class:`~ppdet_wsd.deploy.graph.DetectorGraph`) -> detections in original pixels.

Per image and FPN level: the anchors of the level's grid, the ``nms_pre`` anchors with the
highest class logit, their boxes decoded from the regression deltas (``delta2bbox``) and
their sigmoid scores; all levels together are divided by the image's scale factor and go
through :func:`~ppdet_wsd_runtime.nms.multiclass_nms`. Float32 throughout, in ppdet's order
of operations.
"""
import math

import numpy as np

from .nms import multiclass_nms

DELTA_CLIP = math.log(1000.0 / 16)  # ppdet's bound on exp() of width/height deltas


def grid_anchors(cell_anchors, stride, offset, height, width):
    """Anchors of one level: float32 ``[height * width * A, 4]`` (x1, y1, x2, y2), row by
    row, ``A`` cell anchors per position (ppdet ``AnchorGenerator`` order)."""
    shift_x = np.arange(offset * stride, width * stride, stride, dtype=np.float32)[:width]
    shift_y = np.arange(offset * stride, height * stride, stride, dtype=np.float32)[:height]
    grid_y, grid_x = np.meshgrid(shift_y, shift_x, indexing='ij')
    shifts = np.stack([grid_x.ravel(), grid_y.ravel(), grid_x.ravel(), grid_y.ravel()], axis=1)
    cells = np.asarray(cell_anchors, np.float32)
    return (shifts[:, None, :] + cells[None, :, :]).reshape(-1, 4)


def delta2bbox(deltas, anchors, weights):
    """ppdet's ``delta2bbox``: float32 ``[n, 4]`` deltas (dx, dy, dw, dh) on ``anchors``
    ``[n, 4]`` -> boxes ``[n, 4]``."""
    widths = anchors[:, 2] - anchors[:, 0]
    heights = anchors[:, 3] - anchors[:, 1]
    ctr_x = anchors[:, 0] + 0.5 * widths
    ctr_y = anchors[:, 1] + 0.5 * heights
    wx, wy, ww, wh = (np.float32(w) for w in weights)
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = np.minimum(deltas[:, 2] / ww, np.float32(DELTA_CLIP))
    dh = np.minimum(deltas[:, 3] / wh, np.float32(DELTA_CLIP))
    pred_ctr_x = dx * widths + ctr_x
    pred_ctr_y = dy * heights + ctr_y
    pred_w = np.exp(dw) * widths
    pred_h = np.exp(dh) * heights
    return np.stack([pred_ctr_x - 0.5 * pred_w, pred_ctr_y - 0.5 * pred_h,
                     pred_ctr_x + 0.5 * pred_w, pred_ctr_y + 0.5 * pred_h], axis=1)


def sigmoid(x):
    """float32 logistic function."""
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


class RetinaDecoder:
    """Detections from raw ``RetinaHead`` outputs, with the ``postprocess`` section of an
    exported detector's ``infer_cfg.yml`` (see
    :func:`~ppdet_wsd.deploy.graph.retina_postprocess`)."""

    def __init__(self, postprocess):
        self.cfg = postprocess
        self.num_classes = int(postprocess['num_classes'])
        self._anchors = {}

    def anchors(self, level, height, width):
        """The anchors of ``level`` for a ``height`` x ``width`` output map (cached)."""
        key = (level, height, width)
        if key not in self._anchors:
            self._anchors[key] = grid_anchors(self.cfg['cell_anchors'][level],
                                              self.cfg['strides'][level],
                                              self.cfg['anchor_offset'], height, width)
        return self._anchors[key]

    def decode_image(self, cls_logits, bbox_reg, scale_factor):
        """One image's detections.

        Args:
            cls_logits (list[np.ndarray]): per level float32 ``[A*C, H_l, W_l]``.
            bbox_reg (list[np.ndarray]): per level float32 ``[A*4, H_l, W_l]``.
            scale_factor (np.ndarray): float32 ``[2]``, (y, x) original -> input pixels.
        Returns:
            np.ndarray: float32 ``[m, 6]`` (class, score, x1, y1, x2, y2 in original
            pixels, not clipped), by class, then score.
        """
        nms_pre = self.cfg['nms_pre']
        all_boxes, all_scores = [], []
        for level, (logits, deltas) in enumerate(zip(cls_logits, bbox_reg)):
            anchors = self.anchors(level, *logits.shape[1:])
            logits = logits.transpose(1, 2, 0).reshape(-1, self.num_classes)
            deltas = deltas.transpose(1, 2, 0).reshape(-1, 4)
            if nms_pre is not None and logits.shape[0] > nms_pre:
                top = np.argsort(-logits.max(axis=1), kind='stable')[:nms_pre]
                logits, deltas, anchors = logits[top], deltas[top], anchors[top]
            all_boxes.append(delta2bbox(deltas, anchors, self.cfg['weights']))
            all_scores.append(sigmoid(logits))
        scale_y, scale_x = np.asarray(scale_factor, np.float32)
        boxes = np.concatenate(all_boxes) / np.array([scale_x, scale_y, scale_x, scale_y],
                                                     np.float32)
        return multiclass_nms(boxes, np.concatenate(all_scores).T, **self.cfg['nms'])

    def decode(self, outputs, scale_factors):
        """Detections of a batch: ``outputs`` are the graph's outputs after ``im_score``
        (per level ``cls_logits`` ``[B, A*C, H_l, W_l]``, then per level ``bbox_reg``);
        ``scale_factors`` float32 ``[B, 2]``. Returns one ``[m, 6]`` array per image."""
        levels = len(outputs) // 2
        cls_logits, bbox_reg = outputs[:levels], outputs[levels:]
        return [self.decode_image([c[i] for c in cls_logits], [r[i] for r in bbox_reg],
                                  scale_factors[i])
                for i in range(len(scale_factors))]
