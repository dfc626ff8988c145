"""CAM methods behind one call signature (modelled on pytorch-grad-cam's)::

    from ppdet_wsd.cam import build_cam
    method = build_cam('gradcam', model)          # model: CAMClassifier or a logits classifier
    result = method(image, classes=None)          # image: float32 [B, 3, H, W]
    result.maps     # float32 [B, K, H, W] >= 0, not normalised, at the input resolution
    result.scores   # float32 [B, C] sigmoid of the image logits
    result.classes  # the K class indices

``base.py`` holds the shared machinery; each method is one small file overriding how its map
is formed; ``smoothing.py`` adds flip / multi-scale test-time augmentation.
"""
from .base import BaseCAM, CAMResult, GradientCAM
from .class_map import ClassMapCAM
from .grad_cam import GradCAM
from .grad_cam_pp import GradCAMPlusPlus
from .layer_cam import LayerCAM
from .smoothing import SmoothedCAM

__all__ = ['BaseCAM', 'CAMResult', 'GradientCAM', 'ClassMapCAM', 'GradCAM', 'GradCAMPlusPlus',
           'LayerCAM', 'SmoothedCAM', 'CAM_METHODS', 'build_cam']

CAM_METHODS = {'cam': ClassMapCAM, 'gradcam': GradCAM, 'gradcam++': GradCAMPlusPlus,
               'layercam': LayerCAM}


def build_cam(name, model, target_layer=None, flips=False, scales=(1.0,)):
    """A CAM method for ``model``, wrapped in :class:`SmoothedCAM` if ``flips`` or any scale
    other than 1 is asked for.

    Args:
        name (str): a key of :data:`CAM_METHODS`.
        model (nn.Layer): a CAMClassifier (every method) or a logits classifier (gradient
            methods, with ``target_layer``).
        target_layer (str | nn.Layer | None): gradient methods only; None = the method's default
            for a CAMClassifier (the fused features entering the class conv).
        flips (bool): average with the horizontally mirrored input.
        scales (sequence[float]): input scale factors to average over.
    Returns:
        BaseCAM | SmoothedCAM: callable as ``method(image, classes=None) -> CAMResult``.
    """
    if name not in CAM_METHODS:
        raise ValueError(f'unknown CAM method "{name}"; known: {sorted(CAM_METHODS)}')
    method = CAM_METHODS[name](model, target_layer)
    if flips or tuple(scales) != (1.0,):
        return SmoothedCAM(method, flips=flips, scales=scales)
    return method
