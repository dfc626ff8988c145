"""``CAMHead``: a 1x1 class convolution whose output maps are the class activation maps."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..registry import register_module

POOLINGS = ('avg', 'max', 'lse')


def pool_maps(maps, pooling, lse_r=5.0):
    """Pool class maps ``[B, C, H, W]`` to image logits ``[B, C]``.

    ``avg`` is the classic CAM global average, ``max`` the strongest location,
    ``lse`` the smooth maximum ``log(mean(exp(r * m))) / r`` between the two
    (large ``r`` -> max, small ``r`` -> avg); small defects favour ``lse``/``max``.
    """
    flat = maps.flatten(start_axis=2)
    if pooling == 'avg':
        return flat.mean(axis=2)
    if pooling == 'max':
        return flat.max(axis=2)
    n = float(flat.shape[2])
    return (paddle.logsumexp(lse_r * flat, axis=2) - paddle.log(paddle.to_tensor(n))) / lse_r


def fuse_levels(feats):
    """Upsample every feature map to the first (finest) one and concatenate channels.

    Args:
        feats (list[Tensor]): ``[B, C_i, H_i, W_i]``, finest first.
    Returns:
        Tensor: ``[B, sum(C_i), H_0, W_0]``.
    """
    size = feats[0].shape[2:]
    return paddle.concat([feats[0]] + [F.interpolate(f, size=size, mode='bilinear',
                                                      align_corners=False)
                                       for f in feats[1:]], axis=1)


@register_module
class CAMHead(nn.Layer):
    """Class maps from backbone features and image-level BCE.

    Args:
        num_classes (int): defect classes (``good`` is the all-negative case).
        in_channels (int): channels of the fused feature map (set from the
            backbone's ``out_shape`` by :meth:`from_config`).
        pooling (str): one of ``avg``, ``max``, ``lse`` (see :func:`pool_maps`).
        lse_r (float): sharpness of ``lse`` pooling.
        dropout (float): dropout on features before the class conv (training only).
    """
    __shared__ = ['num_classes']

    def __init__(self, num_classes=1, in_channels=1280, pooling='lse', lse_r=5.0,
                 dropout=0.2):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f'CAMHead.pooling must be one of {POOLINGS}, got "{pooling}"')
        self.pooling, self.lse_r = pooling, lse_r
        self.dropout = nn.Dropout(dropout)
        self.class_conv = nn.Conv2D(in_channels, num_classes, 1)

    @classmethod
    def from_config(cls, cfg, input_shape):
        """``in_channels`` from the backbone's ``out_shape`` (all levels are fused)."""
        return {'in_channels': sum(spec.channels for spec in input_shape)}

    def forward(self, feats):
        """Return ``(cams [B, C, H_0, W_0], logits [B, C])`` from ``feats`` (finest first)."""
        cams = self.class_conv(self.dropout(fuse_levels(feats)))
        return cams, pool_maps(cams, self.pooling, self.lse_r)

    @staticmethod
    def loss(logits, img_label):
        """Mean binary cross-entropy of ``logits [B, C]`` against multi-hot ``img_label``;
        a 0-D tensor (``good`` images are all-negative rows)."""
        return F.binary_cross_entropy_with_logits(logits, img_label.astype(logits.dtype))
