"""Frozen backbone features of one image, as the evidence models read them.

Per image two things are kept (:class:`ImageFeatures`):

* ``patches``: one descriptor per stride-8 cell, the stride-8 map (40 channels for
  EfficientNet-Lite0) concatenated with the stride-16 map (112 channels) upsampled to it,
  averaged over 3x3 neighbouring cells (a little context, as in PatchCore);
* ``pooled``: the global average of the 1280-channel head map (the linear probe's input).
"""
from dataclasses import dataclass

import numpy as np

from ppdet_wsd_runtime.evidence_input import patch_descriptors

from .geometry import PATCH_STRIDE

# EfficientNet-Lite feature indices: stride 8 (40 ch), stride 16 (112 ch), head (1280 ch)
RETURN_IDX = (2, 4, 7)
PATCH_CONTEXT = 3


@dataclass
class ImageFeatures:
    """The cached features of one image.

    Attributes:
        patches (np.ndarray): float16 ``[rows, cols, D]`` patch descriptors over the
            resized image's stride-8 cells (D = 152 for Lite0).
        pooled (np.ndarray): float32 ``[1280]`` global average of the head map.
        image_hw (tuple[int, int]): the original image's (height, width).
    """
    patches: np.ndarray
    pooled: np.ndarray
    image_hw: tuple


class FeatureExtractor:
    """Frozen EfficientNet-Lite0 (ImageNet) features of aspect-kept images.

    Args:
        geometry (InputGeometry): how an image enters the network.
        backbone (nn.Layer | None): returns the feature maps of :data:`RETURN_IDX` from a
            ``[1, 3, H, W]`` tensor; None builds the ImageNet EfficientNet-Lite0 (local
            weights only, see docs/weights.md).
    """

    def __init__(self, geometry, backbone=None):
        import paddle  # noqa: F401  (paddle is only needed where features are computed)
        from ..backbones.efficientnet_lite import EfficientNetLite
        self.geometry = geometry
        self.backbone = backbone or EfficientNetLite(return_idx=list(RETURN_IDX))
        self.backbone.eval()

    def __call__(self, rgb):
        """Features of one uint8 RGB image ``[H, W, 3]`` (:class:`ImageFeatures`)."""
        import paddle
        x, resized = self.geometry.prepare(rgb)
        with paddle.no_grad():
            fine, coarse, head = (f[0].numpy() for f in self.backbone(paddle.to_tensor(x[None])))
        crop = self.geometry.crop
        patches = crop(patch_descriptors(fine, coarse, PATCH_CONTEXT).transpose(2, 0, 1),
                       PATCH_STRIDE, resized)
        head = crop(head, 4 * PATCH_STRIDE, resized)
        return ImageFeatures(patches=patches.transpose(1, 2, 0).astype(np.float16),
                             pooled=head.reshape(head.shape[0], -1).mean(axis=1).astype(np.float32),
                             image_hw=tuple(int(v) for v in rgb.shape[:2]))
