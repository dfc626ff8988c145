"""``CAMPseudoBoxGenerator``: class activation maps -> scored pseudo boxes."""
import numpy as np
from skimage.filters import threshold_otsu

from ppdet_wsd_runtime.heatmap import normalise_map

from ..registry import register_module
from ..utils.contours import boxes_from_heatmap
from .box_ops import nms_keep

THRESHOLD_MODES = ('relative', 'otsu', 'per_class')
BOX_SCORES = ('mean', 'peak')


def box_statistic(heat, box, statistic):
    """Mean or peak of ``heat [H, W]`` inside one ``(x1, y1, x2, y2)`` pixel-edge box."""
    x1, y1, x2, y2 = (int(v) for v in box)
    inside = heat[y1:y2, x1:x2]
    return float(inside.max() if statistic == 'peak' else inside.mean())


@register_module
class CAMPseudoBoxGenerator:
    """Turn one image's class maps into scored boxes, several instances per class.

    For each requested class: normalise its map to [0, 1] (negatives -> 0, max -> 1),
    threshold it, box every contour (or only the largest), drop boxes outside the
    size / aspect priors, score each box as (mean or peak map value inside) x (class
    probability), then suppress overlaps with NMS and keep the best
    ``max_boxes_per_class``.

    Thresholds use no ground truth by default: ``relative`` is a fixed fraction of
    the map maximum, ``otsu`` is Otsu's threshold of the normalised map. ``per_class``
    takes ``class_thresholds`` (e.g. chosen in the explicit few-boxes mode, which must
    report how many boxed images it used).

    Args:
        threshold_mode (str): ``relative``, ``otsu`` or ``per_class``.
        threshold (float): the fraction for ``relative``; the fallback for classes
            missing from ``class_thresholds``.
        class_thresholds (dict[str, float]): per-class thresholds (``per_class`` mode).
        all_contours (bool): box every region (several instances) or only the largest.
        min_area_frac / max_area_frac (float): allowed box area as a fraction of the
            image area; ``class_area_frac`` ({class: [min, max]}) overrides per class.
        max_aspect (float): longest / shortest box side allowed.
        box_score (str): ``mean`` or ``peak`` of the normalised map inside the box.
        nms_iou (float): IoU above which the lower-scored box of a class is dropped.
        max_boxes_per_class (int): boxes kept per class after NMS.
    """

    def __init__(self, threshold_mode='relative', threshold=0.5, class_thresholds=None,
                 all_contours=True, min_area_frac=0.0002, max_area_frac=1.0,
                 class_area_frac=None, max_aspect=20.0, box_score='mean', nms_iou=0.3,
                 max_boxes_per_class=10):
        if threshold_mode not in THRESHOLD_MODES:
            raise ValueError(f'threshold_mode must be one of {THRESHOLD_MODES}, got "{threshold_mode}"')
        if box_score not in BOX_SCORES:
            raise ValueError(f'box_score must be one of {BOX_SCORES}, got "{box_score}"')
        self.threshold_mode = threshold_mode
        self.threshold = threshold
        self.class_thresholds = dict(class_thresholds or {})
        self.all_contours = all_contours
        self.area_frac = (min_area_frac, max_area_frac)
        self.class_area_frac = dict(class_area_frac or {})
        self.max_aspect = max_aspect
        self.box_score = box_score
        self.nms_iou = nms_iou
        self.max_boxes_per_class = max_boxes_per_class

    def threshold_for(self, heat, class_name):
        """The foreground threshold for one normalised map ``[H, W]`` in [0, 1]."""
        if self.threshold_mode == 'otsu':
            return float(threshold_otsu(heat)) if heat.max() > heat.min() else 1.0
        if self.threshold_mode == 'per_class':
            return float(self.class_thresholds.get(class_name, self.threshold))
        return float(self.threshold)

    def _within_priors(self, boxes, image_area, class_name):
        low, high = self.class_area_frac.get(class_name, self.area_frac)
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        area = w * h / image_area
        aspect = np.maximum(w, h) / np.maximum(np.minimum(w, h), 1e-6)
        return (area >= low) & (area <= high) & (aspect <= self.max_aspect)

    def boxes_for_class(self, cam, class_name, probability):
        """Scored boxes of one class.

        Args:
            cam (np.ndarray): float ``[H, W]`` raw class map aligned with the image.
            class_name (str): for per-class thresholds and priors.
            probability (float): the image-level class probability in [0, 1].
        Returns:
            tuple[np.ndarray, np.ndarray]: boxes float32 ``[N, 4]`` xyxy (pixel edges)
            and scores float32 ``[N]`` in [0, 1], best first.
        """
        heat = normalise_map(cam)
        boxes = boxes_from_heatmap(heat, max(self.threshold_for(heat, class_name), 1e-6),
                                   self.all_contours)
        boxes = boxes[self._within_priors(boxes, heat.size, class_name)] if len(boxes) else boxes
        if not len(boxes):
            return boxes, np.zeros(0, dtype=np.float32)
        scores = np.array([box_statistic(heat, b, self.box_score) * probability for b in boxes],
                          dtype=np.float32)
        keep = nms_keep(boxes, scores, self.nms_iou, self.max_boxes_per_class)
        return boxes[keep], scores[keep]

    def __call__(self, cams, probabilities, class_names):
        """Pseudo boxes of one image for the given classes.

        Args:
            cams (np.ndarray): float ``[K, H, W]`` raw maps of the K requested classes.
            probabilities (sequence[float]): ``[K]`` class probabilities.
            class_names (list[str]): the K class names.
        Returns:
            list[dict]: ``{'class': name, 'box': [x1, y1, x2, y2], 'score': float}``,
            best first within each class.
        """
        out = []
        for cam, probability, name in zip(cams, probabilities, class_names):
            boxes, scores = self.boxes_for_class(cam, name, float(probability))
            out += [{'class': name, 'box': [float(v) for v in box], 'score': float(score)}
                    for box, score in zip(boxes, scores)]
        return out
