"""Metrics that tell the truth: image level (sklearn) and localisation (CAMs, boxes)."""
from .image_level import (format_report, image_level_report, operating_threshold,  # noqa: F401
                          selection_score, verdict_rates, youden_threshold)
from .detection_metric import DetectionMetric, detection_report  # noqa: F401
from .image_metric import ImageLabelMetric  # noqa: F401
from .localization import (box_acc_at, box_iou, coco_box_map, corloc,  # noqa: F401
                           max_box_acc_v2, pxap)
