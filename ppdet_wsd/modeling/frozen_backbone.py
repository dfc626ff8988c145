"""A base architecture whose backbone can stay frozen, with its features cached."""
import paddle
from ppdet.modeling.architectures.meta_arch import BaseArch

from .feature_cache import FeatureCache


class FrozenBackboneArch(BaseArch):
    """``BaseArch`` plus an optionally frozen backbone and a feature cache.

    A frozen backbone has no gradients and keeps its BatchNorm in eval mode, also
    while the rest of the model trains. With ``cache_features`` each distinct input
    image's features are computed once per run (:class:`FeatureCache`); export and
    other static graphs always run the plain backbone.

    Args:
        backbone (nn.Layer): returns a list of feature maps from ``{'image': x}``.
        freeze_backbone (bool): keep the backbone fixed.
        cache_features (bool): cache the frozen backbone's features (needs
            ``freeze_backbone``).
        cache_max_mb (float): memory budget of that cache.
    """

    def __init__(self, backbone, freeze_backbone=True, cache_features=True, cache_max_mb=4096):
        super().__init__()
        self.backbone = backbone
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for param in self.backbone.parameters():
                param.stop_gradient = True
        self.cache = FeatureCache(cache_max_mb) if freeze_backbone and cache_features else None

    def train(self):
        """Train mode for the trainable parts; a frozen backbone stays in eval mode."""
        super().train()
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def backbone_features(self, image):
        """Backbone feature maps of ``image`` float32 ``[B, 3, H, W]`` (cached when enabled)."""
        def run(x):
            return self.backbone({'image': x})
        if self.cache is None or not paddle.in_dynamic_mode():
            return run(image)
        return self.cache(run, image)
