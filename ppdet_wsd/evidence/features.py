"""Frozen backbone features of one image, as the evidence models read them.

Per image two things are kept (:class:`ImageFeatures`):

* ``patches``: one descriptor per stride-8 cell, the stride-8 map (40 channels for
  EfficientNet-Lite0) concatenated with the stride-16 map (112 channels) upsampled to it,
  averaged over 3x3 neighbouring cells (a little context, as in PatchCore);
* ``pooled``: the global average of the 1280-channel head map (the linear probe's input).
"""
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import uniform_filter

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


def patch_descriptors(fine, coarse, context=PATCH_CONTEXT):
    """Stride-8 patch descriptors from a stride-8 and a stride-16 map of one input
    (the stride-16 map is upsampled 2x, so cell centres stay aligned).

    Args:
        fine (np.ndarray): float ``[C1, rows, cols]`` (stride 8).
        coarse (np.ndarray): float ``[C2, rows2, cols2]`` (stride 16).
        context (int): side of the neighbourhood averaged around each cell (1: none).
    Returns:
        np.ndarray: float32 ``[rows, cols, C1 + C2]``.
    """
    rows, cols = fine.shape[1:]
    up = cv2.resize(np.ascontiguousarray(coarse.transpose(1, 2, 0), np.float32), (cols, rows),
                    interpolation=cv2.INTER_LINEAR).reshape(rows, cols, -1)
    desc = np.concatenate([fine.transpose(1, 2, 0).astype(np.float32), up], axis=2)
    if context > 1:
        desc = uniform_filter(desc, size=(context, context, 1), mode='nearest')
    return desc


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
        patches = crop(patch_descriptors(fine, coarse).transpose(2, 0, 1), PATCH_STRIDE, resized)
        head = crop(head, 4 * PATCH_STRIDE, resized)
        return ImageFeatures(patches=patches.transpose(1, 2, 0).astype(np.float16),
                             pooled=head.reshape(head.shape[0], -1).mean(axis=1).astype(np.float32),
                             image_hw=tuple(int(v) for v in rgb.shape[:2]))
