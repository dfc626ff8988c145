"""Model parts registered with ppdet: heads and architectures."""
from . import cam_classifier, cam_head  # noqa: F401  (registers them with ppdet)
