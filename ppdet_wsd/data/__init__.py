"""Data sources and reader operators (image-level labels only; boxes are for evaluation)."""
from . import box_dataset, image_label_dataset, transforms  # noqa: F401  (registers them with ppdet)
