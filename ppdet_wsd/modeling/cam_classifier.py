"""``CAMClassifier``: backbone -> 1x1 class conv (the CAM) -> pooled image logits."""
import paddle.nn.functional as F
from ppdet.core.workspace import create

from ..registry import register_module
from .frozen_backbone import FrozenBackboneArch


@register_module
class CAMClassifier(FrozenBackboneArch):
    """Image-level defect classifier whose class maps are class activation maps.

    Inputs (ppdet batch dict): ``image`` float32 ``[B, 3, H, W]`` (normalised),
    ``img_label`` float32 ``[B, C]`` (training and evaluation).

    Training returns ``{'loss': 0-D}``; evaluation/export returns
    ``{'scores': float32 [B, C] in [0, 1], 'cam': float32 [B, C, h, w]}`` where
    ``cam`` holds the raw class maps at the finest returned backbone stride.

    Args:
        backbone (nn.Layer): returns a list of feature maps, finest first, and has
            ``out_shape`` (list of ShapeSpec).
        head (CAMHead): class conv + pooling.
        freeze_backbone (bool): keep the backbone fixed (eval-mode BatchNorm, no
            gradients); only the head trains.
        cache_features (bool): with a frozen backbone, compute each distinct input
            image's features once per run (see :class:`FeatureCache`).
        cache_max_mb (float): memory budget of that cache.
    """
    __category__ = 'architecture'

    def __init__(self, backbone, head, freeze_backbone=True, cache_features=True,
                 cache_max_mb=4096):
        super().__init__(backbone, freeze_backbone, cache_features, cache_max_mb)
        self.head = head

    @classmethod
    def from_config(cls, cfg, *args, **kwargs):
        backbone = create(cfg['backbone'])
        head = create(cfg['head'], input_shape=backbone.out_shape)
        return {'backbone': backbone, 'head': head}

    def _forward(self):
        feats = self.backbone_features(self.inputs['image'])
        return self.head(feats)

    def get_loss(self):
        _, logits = self._forward()
        return {'loss': self.head.loss(logits, self.inputs['img_label'])}

    def get_pred(self):
        cams, logits = self._forward()
        return {'scores': F.sigmoid(logits), 'cam': cams}
