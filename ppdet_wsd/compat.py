"""Runtime fixes for paddledet 2.6.0 on today's Pillow / numpy (PADDLEDET_NOTES.md §6).

Each fix is applied once by :func:`apply_all` when ``ppdet_wsd`` is imported, and
each has a test in ``tests/test_compat.py`` that fails without it.
"""
import numpy as np
import paddle
from PIL import ImageDraw
from ppdet.modeling import ops
from ppdet.utils import stats


def _textsize(self, text, font=None, *args, **kwargs):
    """``ImageDraw.textsize`` (removed in Pillow 10) built on ``textbbox``."""
    left, top, right, bottom = self.textbbox((0, 0), text, font=font, *args, **kwargs)
    return right - left, bottom - top


def patch_pillow_textsize():
    """ppdet's ``visualizer.draw_bbox`` calls ``draw.textsize`` (Pillow < 10 only)."""
    if not hasattr(ImageDraw.ImageDraw, 'textsize'):
        ImageDraw.ImageDraw.textsize = _textsize


def _scalar(value):
    """A loss tensor of shape ``[]`` or ``[1]`` (or a number) as a Python float."""
    if hasattr(value, 'numpy'):
        value = value.numpy()
    return float(np.asarray(value).reshape(-1)[0])


def _update_stats(self, values):
    if self.meters is None:
        self.meters = {k: stats.SmoothedValue(self.window_size) for k in values}
    for key, meter in self.meters.items():
        meter.update(_scalar(values[key]))


def patch_training_stats():
    """ppdet's ``TrainingStats.update`` stores raw arrays; a mix of ``[]`` and
    ``[1]`` losses (RetinaHead without positives) makes ``np.median`` fail on
    numpy >= 1.24. Store floats instead."""
    stats.TrainingStats.update = _update_stats


def _in_pir_mode():
    framework = paddle.framework
    return hasattr(framework, 'in_pir_mode') and framework.in_pir_mode()


def _multiclass_nms_pir(original):
    def multiclass_nms(bboxes, scores, score_threshold, nms_top_k, keep_top_k,
                       nms_threshold=0.3, normalized=True, nms_eta=1., background_label=-1,
                       return_index=False, return_rois_num=True, rois_num=None, name=None):
        if not _in_pir_mode():
            return original(bboxes, scores, score_threshold, nms_top_k, keep_top_k,
                            nms_threshold, normalized, nms_eta, background_label,
                            return_index, return_rois_num, rois_num, name)
        output, index, nms_rois_num = paddle._C_ops.multiclass_nms3(
            bboxes, scores, rois_num, score_threshold, nms_top_k, keep_top_k, nms_threshold,
            normalized, nms_eta, background_label)
        return output, nms_rois_num, index if return_index else None
    multiclass_nms.wsd_patched = True
    return multiclass_nms


def patch_multiclass_nms_for_pir():
    """ppdet's ``ops.multiclass_nms`` builds a legacy ``multiclass_nms3`` op when not in
    dynamic mode, which fails while exporting under paddle 3's PIR; there, call the
    ``_C_ops`` kernel (as upstream develop does). ``layers.MultiClassNMS`` looks the
    function up through the module, so replacing it there is enough."""
    if not getattr(ops.multiclass_nms, 'wsd_patched', False):
        ops.multiclass_nms = _multiclass_nms_pir(ops.multiclass_nms)


def apply_all():
    """Apply every fix; safe to call more than once."""
    patch_pillow_textsize()
    patch_training_stats()
    patch_multiclass_nms_for_pir()
