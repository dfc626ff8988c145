"""Test-time augmentation for any CAM method: horizontal flips and input scales."""
import numpy as np
import paddle
import paddle.nn.functional as F

from .base import CAMResult


def resize(x, size):
    """Bilinear resize of float32 ``x`` ``[B, C, h, w]`` (Tensor) to ``size`` ``(H, W)``."""
    return F.interpolate(x, size=list(size), mode='bilinear', align_corners=False)


class SmoothedCAM:
    """A CAM method averaged over flipped and rescaled copies of the input.

    For each scale ``s`` the input ``[B, 3, H, W]`` is resized bilinearly to
    ``round(s * H) x round(s * W)`` (``s == 1``: untouched); the method runs on it and, with
    ``flips``, on its horizontal mirror, whose maps are mirrored back. All maps are resized
    back to ``H x W`` and averaged, and so are the scores. Cost: ``len(scales) * (1 + flips)``
    calls of ``method``.

    Args:
        method (BaseCAM): any method built by :func:`ppdet_wsd.cam.build_cam`.
        flips (bool): also run on the horizontal mirror.
        scales (sequence[float]): input scale factors, each > 0.
    """

    def __init__(self, method, flips=True, scales=(1.0,)):
        if not scales or any(s <= 0 for s in scales):
            raise ValueError(f'SmoothedCAM.scales must be positive factors, got {scales}')
        self.method, self.flips, self.scales = method, bool(flips), tuple(scales)

    def __call__(self, image, classes=None):
        """Same arguments and :class:`CAMResult` as the wrapped method."""
        height, width = image.shape[2:]
        maps, scores = [], []
        for scale in self.scales:
            size = (max(1, round(scale * height)), max(1, round(scale * width)))
            scaled = image if scale == 1 else resize(image, size)
            for flip in (False, True)[:1 + self.flips]:
                result = self.method(scaled.flip([3]) if flip else scaled, classes)
                out = result.maps[..., ::-1] if flip else result.maps
                if scale != 1:
                    out = resize(paddle.to_tensor(np.ascontiguousarray(out)), (height, width))
                    out = out.numpy()
                maps.append(out)
                scores.append(result.scores)
        return CAMResult(np.mean(maps, axis=0, dtype=np.float32),
                         np.mean(scores, axis=0, dtype=np.float32), result.classes)
