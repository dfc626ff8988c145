"""``MILHead``: RetinaNet's per-anchor class logits pooled to image-level class scores."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..registry import register_module
from .cam_head import pool_maps
from .scored_retina_head import flatten_levels

MIL_POOLINGS = ('max', 'lse', 'wsddn')
PROB_EPS = 1e-6


def wsddn_scores(logits):
    """WSDDN-style two-stream image scores from anchor logits ``[B, N, C]``.

    Class stream: softmax over the C classes plus a background column of logit 0
    (so an all-good image can put every anchor on background). Location stream:
    softmax over the N anchors, per class. The image score of class c is
    ``sum_n class[n, c] * location[n, c]``, in ``[0, 1)``.

    Returns:
        Tensor: float32 ``[B, C]`` probabilities.
    """
    background = paddle.zeros_like(logits[:, :, :1])
    class_stream = F.softmax(paddle.concat([logits, background], axis=2), axis=2)[:, :, :-1]
    location_stream = F.softmax(logits, axis=1)
    return (class_stream * location_stream).sum(axis=1)


@register_module
class MILHead(nn.Layer):
    """Multiple-instance pooling of anchor class logits into image scores.

    Every anchor of every FPN level is an instance; the image is the bag. ``good``
    images are all-negative bags.

    Args:
        num_classes (int): defect classes.
        pooling (str): ``max`` (the strongest anchor), ``lse`` (smooth maximum,
            ``log(mean(exp(r * l))) / r``) or ``wsddn`` (:func:`wsddn_scores`).
        lse_r (float): sharpness of ``lse``.
        loss_weight (float): factor on the image-level BCE.
    """
    __shared__ = ['num_classes']

    def __init__(self, num_classes=1, pooling='lse', lse_r=5.0, loss_weight=1.0):
        super().__init__()
        if pooling not in MIL_POOLINGS:
            raise ValueError(f'MILHead.pooling must be one of {MIL_POOLINGS}, got "{pooling}"')
        self.num_classes, self.pooling, self.lse_r = num_classes, pooling, lse_r
        self.loss_weight = loss_weight

    def forward(self, cls_logits_list):
        """Image scores ``[B, C]``: logits for ``max``/``lse``, probabilities for ``wsddn``."""
        logits = flatten_levels(cls_logits_list, self.num_classes)
        if self.pooling == 'wsddn':
            return wsddn_scores(logits)
        return pool_maps(logits.transpose([0, 2, 1]), self.pooling, self.lse_r)

    def probabilities(self, scores):
        """``forward``'s output as probabilities ``[B, C]`` in [0, 1]."""
        return scores if self.pooling == 'wsddn' else F.sigmoid(scores)

    def loss(self, scores, img_label):
        """Weighted mean BCE of ``forward``'s output against multi-hot ``img_label``
        ``[B, C]``; a 0-D tensor. Probabilities are clamped to
        ``[1e-6, 1 - 1e-6]`` before the log; logits use the stable
        with-logits form, so an all-good batch is as safe as any other."""
        target = img_label.astype(scores.dtype)
        if self.pooling == 'wsddn':
            loss = F.binary_cross_entropy(scores.clip(PROB_EPS, 1.0 - PROB_EPS), target)
        else:
            loss = F.binary_cross_entropy_with_logits(scores, target)
        return self.loss_weight * loss.reshape([])
