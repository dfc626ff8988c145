"""Online refinement: re-mine an image's pseudo boxes from a teacher's detections."""
import math
from dataclasses import dataclass

import numpy as np

from .box_ops import nms_keep


@dataclass
class MiningRule:
    """How a teacher's detections become the new pseudo boxes of one image.

    Per class in the image label (never another class): the detections of that
    class scored >= ``min_score``; the top ``top_p`` fraction of them by score (at
    least one); non-maximum suppression at ``nms_iou`` (several instances survive,
    as in MIST); at most ``max_per_class``. A labelled class with no surviving
    detection keeps its previous boxes. Good images get no box.

    Attributes:
        top_p (float): fraction in (0, 1] of a class's candidates kept before NMS.
        nms_iou (float): NMS IoU among the kept candidates.
        min_score (float): lowest teacher score that can become a box.
        max_per_class (int): boxes per class at most.
    """
    top_p: float = 0.15
    nms_iou: float = 0.2
    min_score: float = 0.05
    max_per_class: int = 10

    def __call__(self, detections, img_label, previous):
        """New ``(boxes float32 [N, 4], classes int32 [N, 1], scores float32 [N, 1])``.

        Args:
            detections (np.ndarray): float ``[M, 6]`` (class, score, x1, y1, x2, y2).
            img_label (np.ndarray): ``[C]`` multi-hot image label.
            previous (tuple): the current ``(boxes, classes, scores)`` in that layout.
        """
        boxes, classes, scores = [], [], []
        for c in np.flatnonzero(img_label):
            mine = detections[(detections[:, 0] == c) & (detections[:, 1] >= self.min_score)]
            if len(mine):
                mine = mine[np.argsort(-mine[:, 1], kind='stable')]
                mine = mine[:max(1, math.ceil(self.top_p * len(mine)))]
                mine = mine[nms_keep(mine[:, 2:], mine[:, 1], self.nms_iou, self.max_per_class)]
                new = (mine[:, 2:], mine[:, 1])
            else:
                old = previous[1][:, 0] == c
                new = (previous[0][old], previous[2][old, 0])
            boxes.append(new[0])
            scores.append(new[1])
            classes.append(np.full(len(new[0]), c))
        if not boxes:
            return (np.zeros((0, 4), np.float32), np.zeros((0, 1), np.int32),
                    np.zeros((0, 1), np.float32))
        return (np.concatenate(boxes).astype(np.float32).reshape(-1, 4),
                np.concatenate(classes).astype(np.int32).reshape(-1, 1),
                np.concatenate(scores).astype(np.float32).reshape(-1, 1))
