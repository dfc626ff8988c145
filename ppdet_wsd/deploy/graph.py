"""What goes into an exported static graph, so Paddle Inference can run it with oneDNN and
paddle2onnx can convert it.

Paddle 3's PIR predictor cannot run these models with oneDNN as they trace: every
``interpolate`` becomes an ``*_interp`` op whose ``scale`` attribute (an array of doubles)
the oneDNN executor cannot convert (``ConvertPirAttribute2RuntimeAttribute not support
[pir::ArrayAttribute<pir::DoubleAttribute>]``; FPN's 2x upsampling and the CAM head's
level fusion). :func:`static_friendly_resizing` traces those resizes as ordinary tensor ops
that compute the same values. The detector graph also ends at the head's raw outputs
(:class:`DetectorGraph`): a plain convolutional network that paddle2onnx converts and int8
quantisation handles, with the per-image decoding loop and ``multiclass_nms3`` run in numpy
instead (:mod:`.retina_decode`).
"""
import contextlib

import numpy as np
import paddle
import paddle.nn.functional as F

from ..modeling.voting_nms import nms_settings


def _nearest_repeat(x, factor):
    """Nearest upsampling of ``x`` ``[B, C, H, W]`` by an integer ``factor`` (= paddle's
    ``nearest`` interpolation with that scale factor), as unsqueeze / expand / flatten."""
    x = x.unsqueeze([3, 5]).expand([-1, -1, -1, factor, -1, factor])
    return x.flatten(4, 5).flatten(2, 3)


def bilinear_taps(in_size, out_size):
    """paddle's bilinear interpolation along one axis (``align_corners=False``,
    ``align_mode=0``: half-pixel centres, sources below 0 clamped to 0): for each output
    position the two source indices and their weights.

    Returns:
        tuple: ``(low int64 [out_size], high int64 [out_size], low_weight float32
        [out_size], high_weight float32 [out_size])``; output = low_weight * x[low] +
        high_weight * x[high].
    """
    src = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    high_weight = (src - low).astype(np.float32)
    return low, high, np.float32(1) - high_weight, high_weight


def _lerp_axis(x, out_size, axis):
    """Bilinear resize of ``x`` ``[B, C, H, W]`` along ``axis`` (2 or 3) to ``out_size``."""
    low, high, low_weight, high_weight = bilinear_taps(x.shape[axis], out_size)
    shape = [1, 1, 1, 1]
    shape[axis] = out_size
    return (paddle.index_select(x, paddle.to_tensor(low), axis)
            * paddle.to_tensor(low_weight.reshape(shape))
            + paddle.index_select(x, paddle.to_tensor(high), axis)
            * paddle.to_tensor(high_weight.reshape(shape)))


def _bilinear_taps(x, size):
    """Bilinear resize of ``x`` ``[B, C, h, w]`` to ``size`` ``(H, W)``: along the width,
    then the height (paddle's kernel's order), as gathers and weighted sums. (Not as
    matrix products: paddle 3.3's oneDNN matmul misreads a convolution's output layout.)"""
    return _lerp_axis(_lerp_axis(x, size[1], 3), size[0], 2)


def _static_sizes(*values):
    return all(isinstance(v, int) and v > 0 for v in values)


@contextlib.contextmanager
def static_friendly_resizing():
    """While tracing a model for export, compute ``F.interpolate`` without an interp op
    where the same values can be had from plain tensor ops:

    * ``nearest`` by an integer ``scale_factor`` -> repeat (exactly the same values);
    * ``bilinear`` to a fixed ``size`` with ``align_corners=False`` -> gathers and weighted
      sums (the same values up to float rounding);

    any other call goes to paddle's ``interpolate`` unchanged.
    """
    original = F.interpolate

    def interpolate(x, size=None, scale_factor=None, mode='nearest', align_corners=False,
                    align_mode=0, data_format='NCHW', name=None):
        plain = data_format == 'NCHW' and not align_corners and x.ndim == 4
        if plain and mode == 'nearest' and size is None \
                and isinstance(scale_factor, (int, float)) \
                and float(scale_factor) == int(scale_factor) >= 1:
            return _nearest_repeat(x, int(scale_factor))
        if plain and mode == 'bilinear' and align_mode == 0 and scale_factor is None \
                and isinstance(size, (list, tuple)) and _static_sizes(*size, *x.shape[2:]):
            return _bilinear_taps(x, [int(s) for s in size])
        return original(x, size=size, scale_factor=scale_factor, mode=mode,
                        align_corners=align_corners, align_mode=align_mode,
                        data_format=data_format, name=name)

    F.interpolate = interpolate
    try:
        yield
    finally:
        F.interpolate = original


class DetectorGraph(paddle.nn.Layer):
    """A ``RetinaNetMIL`` up to its head's raw outputs, for export.

    Input: ``image`` float32 ``[B, 3, H, W]`` (preprocessed). Outputs, in this order:
    ``im_score`` float32 ``[B, C]`` in [0, 1] (the model's image probabilities), then per
    FPN level ``cls_logits_<l>`` ``[B, A*C, H_l, W_l]``, then per level ``bbox_reg_<l>``
    ``[B, A*4, H_l, W_l]`` (see :func:`output_names`).
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        cls_logits, bbox_reg = self.model.head(self.model.neck(
            self.model.backbone_features(image)))
        return [self.model.image_scores(cls_logits)] + list(cls_logits) + list(bbox_reg)


class HeadGraph(paddle.nn.Layer):
    """A ``RetinaNetMIL`` from its backbone's feature maps to its head's raw outputs, for
    an export whose backbone graph is shared with the stage-1 classifier
    (:mod:`.verdict_export`). Input: one list of float32 maps ``[B, C_i, H_i, W_i]``, the
    backbone's ``return_idx`` in order; outputs as :class:`DetectorGraph`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, features):
        cls_logits, bbox_reg = self.model.head(self.model.neck(list(features)))
        return [self.model.image_scores(cls_logits)] + list(cls_logits) + list(bbox_reg)


def output_names(num_levels):
    """The names of :class:`DetectorGraph`'s outputs, in order."""
    return (['im_score'] + [f'cls_logits_{i}' for i in range(num_levels)]
            + [f'bbox_reg_{i}' for i in range(num_levels)])


def retina_postprocess(head):
    """What the runtime needs to turn a ``RetinaHead``'s raw outputs into detections
    (:mod:`.retina_decode`), as plain YAML-able values: ``num_classes``, ``nms_pre``,
    ``weights``, ``strides``, ``anchor_offset``, ``cell_anchors`` (per level ``[A, 4]``
    x1, y1, x2, y2 around the cell origin, float32 values) and ``nms`` (ppdet
    ``MultiClassNMS`` settings and ``VotingNMS``'s ``vote_iou``, 0 without voting)."""
    generator, nms = head.anchor_generator, head.nms
    return {
        'type': 'RetinaHead',
        'num_classes': int(head.num_classes),
        'nms_pre': None if head.nms_pre is None else int(head.nms_pre),
        'weights': [float(w) for w in head.weights],
        'strides': [float(s) for s in generator.strides],
        'anchor_offset': float(generator.offset),
        'cell_anchors': [np.asarray(a.numpy(), np.float32).tolist()
                         for a in generator.cell_anchors],
        'nms': nms_settings(nms),
    }
