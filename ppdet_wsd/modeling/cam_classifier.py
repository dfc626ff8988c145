"""``CAMClassifier``: backbone -> 1x1 class conv (the CAM) -> pooled image logits."""
import paddle
import paddle.nn.functional as F
from ppdet.core.workspace import create
from ppdet.modeling.architectures.meta_arch import BaseArch

from ..registry import register_module
from .feature_cache import FeatureCache


@register_module
class CAMClassifier(BaseArch):
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
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for param in self.backbone.parameters():
                param.stop_gradient = True
        self.cache = FeatureCache(cache_max_mb) if freeze_backbone and cache_features else None

    @classmethod
    def from_config(cls, cfg, *args, **kwargs):
        backbone = create(cfg['backbone'])
        head = create(cfg['head'], input_shape=backbone.out_shape)
        return {'backbone': backbone, 'head': head}

    def train(self):
        """Train mode for the head; a frozen backbone stays in eval mode."""
        super().train()
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def _backbone_features(self, image):
        def run(x):
            return self.backbone({'image': x})
        if self.cache is None or not paddle.in_dynamic_mode():  # export traces the plain graph
            return run(image)
        return self.cache(run, image)

    def _forward(self):
        feats = self._backbone_features(self.inputs['image'])
        return self.head(feats)

    def get_loss(self):
        _, logits = self._forward()
        return {'loss': self.head.loss(logits, self.inputs['img_label'])}

    def get_pred(self):
        cams, logits = self._forward()
        return {'scores': F.sigmoid(logits), 'cam': cams}
