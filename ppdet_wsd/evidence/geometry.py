"""How an image enters the backbone with its aspect ratio kept, and how the feature grid
maps back onto the image.

An image of ``h x w`` pixels is resized so that its short side is ``short_side`` (the
long side follows the aspect ratio, capped at ``max_long_side``), surrounded by a
reflected border of ``border`` pixels (so that the network sees no artificial edge at
the part's edge), and padded at the bottom/right to a multiple of the backbone's
coarsest stride. Feature maps are then cropped back to the resized image.
"""
from dataclasses import dataclass

import cv2
import numpy as np

COARSEST_STRIDE = 32
PATCH_STRIDE = 8  # the evidence maps' cell size in input pixels


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
        x = (x - 127.0) / 128.0
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


def choose_short_side(sizes, min_side=320, max_side=448):
    """The input short side for a dataset: the median short side of its images, rounded
    down to a multiple of 32 (the backbone's coarsest stride) and kept within
    ``[min_side, max_side]`` (also the detector's square input, with its own bounds).

    Small images are enlarged to ``min_side`` (a stride-8 cell then covers a few pixels of
    the original, so small defects span several cells); large ones are shrunk to
    ``max_side`` (the CPU budget; a defect must then be a few pixels wide at that scale).

    Args:
        sizes (np.ndarray): int ``[N, 2]`` (height, width) of the images.
    Returns:
        int: the short side in input pixels.
    """
    short = int(np.median(np.min(sizes, axis=1))) if len(sizes) else max_side
    return int(np.clip(short // COARSEST_STRIDE * COARSEST_STRIDE, min_side, max_side))


def choose_canvas(sizes, short_side, max_long_side=1024):
    """A fixed input canvas ``[H, W]`` for images of ``sizes`` (the detector's input):
    the short side ``short_side``, the long side from the images' median aspect ratio,
    rounded to a multiple of 32 and capped at ``max_long_side``; portrait images get a
    portrait canvas. An image is resized into it with its aspect kept and padded
    (``LetterboxResize``).

    Args:
        sizes (np.ndarray): int ``[N, 2]`` (height, width) of the images.
        short_side (int): from :func:`choose_short_side`.
        max_long_side (int): CPU budget of the long side.
    Returns:
        list[int]: ``[H, W]``, multiples of 32.
    """
    aspect = float(np.median(sizes[:, 0] / sizes[:, 1])) if len(sizes) else 1.0
    stretch = max(aspect, 1.0 / aspect)
    long_side = int(np.clip(round(short_side * stretch / COARSEST_STRIDE) * COARSEST_STRIDE,
                            short_side, max(short_side, max_long_side)))
    return [long_side, short_side] if aspect >= 1.0 else [short_side, long_side]


def map_to_image(grid_map, height, width):
    """Bilinearly stretch a map over the feature grid of an image onto its pixels.

    Args:
        grid_map (np.ndarray): float ``[rows, cols]`` over the resized image's cells.
        height, width (int): the original image's size.
    Returns:
        np.ndarray: float32 ``[height, width]``.
    """
    return cv2.resize(np.asarray(grid_map, np.float32), (int(width), int(height)),
                      interpolation=cv2.INTER_LINEAR)
