"""Model parts registered with ppdet: heads and architectures."""
# importing a module registers its classes with ppdet
from . import (cam_classifier, cam_head, mil_head, retinanet_mil, scored_retina_head,  # noqa: F401
               voting_nms)
