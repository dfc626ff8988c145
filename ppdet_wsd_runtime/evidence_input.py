"""How an image enters the stage-1 (patch evidence) backbone and how its maps become
patch descriptors: one definition for the plugin, which fits and caches with it
(``ppdet_wsd.evidence``), and the runtime, which scores exported images with it.

An image of ``h x w`` pixels is resized so that its short side is ``short_side`` (the
long side follows the aspect ratio, capped at ``max_long_side``), surrounded by a
reflected border of ``border`` pixels (so that the network sees no artificial edge at
the part's edge), and padded at the bottom/right to a multiple of the backbone's
coarsest stride. Feature maps are then cropped back to the resized image. A patch
descriptor is the stride-8 map next to the stride-16 map resized to it, averaged over a
few neighbouring cells (a little context, as in PatchCore).
"""
from dataclasses import dataclass

import cv2
import numpy as np

COARSEST_STRIDE = 32
PIXEL_MEAN, PIXEL_SCALE = 127.0, 128.0  # EfficientNet-Lite's input: (x - 127) / 128


@dataclass(frozen=True)
class InputGeometry:
    """The aspect-keeping input plan.

    Attributes:
        short_side (int): input pixels of the image's short side.
        max_long_side (int): cap of the long side (the short side shrinks to keep the
            aspect ratio when the cap applies); bounds the CPU cost of long parts.
        border (int): reflected border in input pixels, a multiple of 32.
    """
    short_side: int
    max_long_side: int = 1024
    border: int = 32

    def __post_init__(self):
        if self.short_side < COARSEST_STRIDE or self.max_long_side < self.short_side:
            raise ValueError(f'InputGeometry: need 32 <= short_side <= max_long_side, got '
                             f'{self.short_side} and {self.max_long_side}')
        if self.border % COARSEST_STRIDE:
            raise ValueError(f'InputGeometry.border must be a multiple of 32, got {self.border}')

    def resized_size(self, height, width):
        """``(h, w)`` of an image of ``height x width`` pixels after the resize."""
        scale = self.short_side / min(height, width)
        scale = min(scale, self.max_long_side / max(height, width))
        return max(1, int(round(height * scale))), max(1, int(round(width * scale)))

    def prepare(self, rgb):
        """The network input of one image.

        Args:
            rgb (np.ndarray): uint8 ``[H, W, 3]`` RGB.
        Returns:
            tuple[np.ndarray, tuple[int, int]]: float32 ``[3, H', W']`` normalised as the
            EfficientNet-Lite weights expect (``(x - 127) / 128``), with ``H'`` and ``W'``
            multiples of 32; and the resized image's ``(h, w)`` inside it (after the border).
        """
        h, w = self.resized_size(*rgb.shape[:2])
        x = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if h < rgb.shape[0]
                       else cv2.INTER_LINEAR).astype(np.float32)
        x = (x - PIXEL_MEAN) / PIXEL_SCALE
        b = self.border
        x = np.pad(x, ((b, b), (b, b), (0, 0)), mode='reflect' if min(h, w) > b else 'edge')
        pad_h = -x.shape[0] % COARSEST_STRIDE
        pad_w = -x.shape[1] % COARSEST_STRIDE
        x = np.pad(x, ((0, pad_h), (0, pad_w), (0, 0)), mode='edge')
        return np.ascontiguousarray(x.transpose(2, 0, 1)), (h, w)

    def crop(self, feature, stride, resized_hw):
        """The cells of a feature map ``[C, H/s, W/s]`` that cover the resized image.

        Returns:
            np.ndarray: ``[C, ceil(h/s), ceil(w/s)]``.
        """
        offset = self.border // stride
        rows, cols = -(-resized_hw[0] // stride), -(-resized_hw[1] // stride)
        return feature[:, offset:offset + rows, offset:offset + cols]


def box_mean_nearest(x, size, axis):
    """The mean over ``size`` neighbours along ``axis``, edges repeated: scipy's
    ``uniform_filter1d(x, size, axis, mode='nearest')`` of a float32 array (the window
    ``-(size // 2) .. size - size // 2 - 1``, summed in float64, stored as float32)."""
    n = x.shape[axis]
    index = np.arange(n)
    total = np.zeros(x.shape, np.float64)
    for offset in range(-(size // 2), size - size // 2):
        total += np.take(x, np.clip(index + offset, 0, n - 1), axis=axis)
    return (total / size).astype(np.float32)


def patch_descriptors(fine, coarse, context=3):
    """Stride-8 patch descriptors of one input: the stride-8 map ``[C1, rows, cols]`` next
    to the stride-16 map ``[C2, rows/2, cols/2]`` resized to it (bilinear), averaged over
    ``context x context`` cells with the edge cells repeated.

    Returns:
        np.ndarray: float32 ``[rows, cols, C1 + C2]``.
    """
    rows, cols = fine.shape[1:]
    up = cv2.resize(np.ascontiguousarray(coarse.transpose(1, 2, 0), np.float32), (cols, rows),
                    interpolation=cv2.INTER_LINEAR).reshape(rows, cols, -1)
    desc = np.concatenate([fine.transpose(1, 2, 0).astype(np.float32), up], axis=2)
    if context > 1:
        desc = box_mean_nearest(box_mean_nearest(desc, context, 0), context, 1)
    return desc
