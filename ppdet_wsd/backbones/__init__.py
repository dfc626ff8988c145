"""Backbones: offline-pretrained EfficientNet-Lite and adapters for PaddleClas networks."""
from . import efficientnet_lite  # noqa: F401  (registers EfficientNetLite)
from . import paddleclas_backbone  # noqa: F401  (registers PaddleClasBackbone)
