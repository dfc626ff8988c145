"""What every CAM method shares: the call signature, eval mode, target-layer hooks, and the
final ReLU (where the method has one) + bilinear upsampling to the input size.

A gradient method subclasses :class:`GradientCAM` and overrides only
:meth:`GradientCAM.combine` (activation and gradient -> map); a method without gradients
subclasses :class:`BaseCAM` and overrides :meth:`BaseCAM.class_maps`.
"""
import contextlib
import difflib
from collections import namedtuple

import paddle
import paddle.nn.functional as F

from ..modeling.cam_classifier import CAMClassifier

# Output of CAMHead.dropout: in eval mode exactly the fused multi-level feature map that
# enters the 1x1 class conv, so Grad-CAM there explains the class maps themselves.
DEFAULT_TARGET_LAYER = 'head.dropout'


class CAMResult(namedtuple('CAMResult', ['maps', 'scores', 'classes'])):
    """Output of every CAM method.

    Attributes:
        maps (np.ndarray): float32 ``[B, K, H, W]`` at the input resolution, not normalised;
            >= 0 for the gradient methods (ReLU, as they are defined); plain CAM returns the
            raw class map (Zhou et al.), which may be negative. Consumers min-max normalise
            (``ppdet_wsd_runtime.heatmap.normalise_map``).
        scores (np.ndarray): float32 ``[B, C]`` in [0, 1], sigmoid of the image logits.
        classes (list[int]): the K class indices along axis 1 of ``maps``.
    """
    __slots__ = ()


def image_logits(model, image):
    """Pre-sigmoid image logits float32 ``[B, C]`` of ``image`` float32 ``[B, 3, H, W]``.

    A :class:`CAMClassifier` runs ``backbone`` + ``head`` directly (never its feature cache, so
    hooks in the backbone fire and gradients flow); any other model is called as
    ``model(image)`` and must return the logits or a dict holding them under ``'logits'``.
    """
    if isinstance(model, CAMClassifier):
        return model.head(model.backbone({'image': image}))[1]
    out = model(image)
    return out['logits'] if isinstance(out, dict) else out


def find_layer(model, target_layer):
    """The sublayer of ``model`` named ``target_layer`` (dotted, e.g. ``'backbone.stages.4'``),
    or ``target_layer`` itself if it is an ``nn.Layer`` inside ``model``."""
    if isinstance(target_layer, paddle.nn.Layer):
        if not any(target_layer is layer for layer in model.sublayers(include_self=True)):
            raise ValueError(f'target_layer ({type(target_layer).__name__}) is not a sublayer '
                             f'of the model')
        return target_layer
    layers = dict(model.named_sublayers())
    if target_layer not in layers:
        names = list(layers)
        hints = difflib.get_close_matches(str(target_layer), names, n=5) or names[:5]
        raise ValueError(f'the model has no sublayer "{target_layer}"; valid names include '
                         f'{hints} ({len(names)} in all, see model.named_sublayers())')
    return layers[target_layer]


def check_classes(classes, num_classes):
    """``classes`` as a non-empty list of ints in ``[0, num_classes)``; None means all."""
    if classes is None:
        return list(range(num_classes))
    classes = [int(c) for c in classes]
    if not classes or any(not 0 <= c < num_classes for c in classes):
        raise ValueError(f'classes must be indices in [0, {num_classes}), got {classes}')
    return classes


@contextlib.contextmanager
def eval_mode(model):
    """Run the block with ``model`` in eval mode; afterwards every sublayer gets back its own
    mode (a frozen backbone inside a training model stays in eval mode)."""
    was_training = model.training
    modes = [(layer, layer.training) for layer in model.sublayers(include_self=True)]
    model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()  # the top-level call also restores paddle's global train/eval flag
        else:
            model.eval()
        for layer, training in modes:
            layer.training = training


class BaseCAM:
    """``method(image, classes=None) -> CAMResult`` for every CAM method.

    Args:
        model (nn.Layer): the classifier to explain.
    """

    rectify = True  # apply the ReLU of the method's definition

    def __init__(self, model):
        self.model = model

    def __call__(self, image, classes=None):
        """Class maps of a batch.

        Args:
            image (paddle.Tensor): float32 ``[B, 3, H, W]``, preprocessed as the model expects.
            classes (list[int] | None): class indices explained in every image; None = all C.
        Returns:
            CAMResult: ``maps`` float32 ``[B, K, H, W]`` (>= 0 when ``rectify``),
            ``scores`` float32 ``[B, C]``, ``classes`` (K indices).
        """
        if len(image.shape) != 4:
            raise ValueError(f'image must be [B, 3, H, W], got shape {list(image.shape)}')
        with eval_mode(self.model):
            maps, scores, classes = self.class_maps(image, classes)
        maps = F.interpolate(F.relu(maps) if self.rectify else maps,
                             size=list(image.shape[2:]), mode='bilinear', align_corners=False)
        return CAMResult(maps.numpy().astype('float32'), scores.numpy().astype('float32'), classes)

    def class_maps(self, image, classes):
        """Return ``(maps, scores, classes)``: float32 ``[B, K, h, w]`` maps before the ReLU at
        the method's own resolution, float32 ``[B, C]`` class probabilities, the K indices."""
        raise NotImplementedError


class GradientCAM(BaseCAM):
    """Base of the gradient methods: maps from the target layer's activation ``A``
    ``[B, N, h, w]`` and the gradient ``G`` of a class's image logit w.r.t. ``A``.

    One forward per batch and one backward per target class (the logits are summed over the
    batch: in eval mode each image's logit depends only on its own activation). The activation
    is made to require gradients inside a forward hook, so a frozen backbone works; the hook
    is removed after the forward.

    Args:
        model (nn.Layer): a :class:`CAMClassifier`, or a classifier returning logits
            (see :func:`image_logits`).
        target_layer (str | nn.Layer | None): the layer whose output is ``A``: a dotted
            sublayer name or the layer itself. None (CAMClassifier only) = the fused feature
            map entering the class conv (:data:`DEFAULT_TARGET_LAYER`).
    """

    def __init__(self, model, target_layer=None):
        super().__init__(model)
        if target_layer is None:
            if not isinstance(model, CAMClassifier):
                raise ValueError(f'{type(self).__name__}: target_layer is required for a '
                                 f'{type(model).__name__} (only CAMClassifier has a default)')
            target_layer = DEFAULT_TARGET_LAYER
        self.target_layer = find_layer(model, target_layer)

    def class_maps(self, image, classes):
        activations = []

        def keep(layer, inputs, output):
            if not isinstance(output, paddle.Tensor):
                raise TypeError(f'{type(self).__name__}: the target layer returns '
                                f'{type(output).__name__}, a single Tensor is needed')
            output.stop_gradient = False
            activations.append(output)

        handle = self.target_layer.register_forward_post_hook(keep)
        try:
            with paddle.set_grad_enabled(True):
                logits = image_logits(self.model, image)
        finally:
            handle.remove()
        if len(activations) != 1:
            raise RuntimeError(f'{type(self).__name__}: the target layer ran '
                               f'{len(activations)} times in one forward pass; pick a layer '
                               f'that runs exactly once')
        classes = check_classes(classes, logits.shape[1])
        activation = activations[0]
        maps = []
        for i, c in enumerate(classes):
            with paddle.set_grad_enabled(True):
                grad, = paddle.grad(logits[:, c].sum(), activation,
                                    retain_graph=i < len(classes) - 1)
            with paddle.no_grad():
                maps.append(self.combine(activation.detach(), grad))
        return paddle.stack(maps, axis=1), F.sigmoid(logits.detach()), classes

    def combine(self, activation, grad):
        """Map float32 ``[B, h, w]`` (before the ReLU) from ``activation`` and ``grad``, both
        float32 ``[B, N, h, w]``."""
        raise NotImplementedError
