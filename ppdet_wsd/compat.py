"""Runtime fixes for paddledet 2.6.0 on today's Pillow / numpy (PADDLEDET_NOTES.md §6).

Each fix is applied once by :func:`apply_all` when ``ppdet_wsd`` is imported, and
each has a test in ``tests/test_compat.py`` that fails without it.
"""
import numpy as np
from PIL import ImageDraw
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


def apply_all():
    """Apply every fix; safe to call more than once."""
    patch_pillow_textsize()
    patch_training_stats()
