"""Metrics that tell the truth: image level now; localisation metrics come with pseudo boxes."""
from .image_level import format_report, image_level_report  # noqa: F401
from .image_metric import ImageLabelMetric  # noqa: F401
