"""The input sizes chosen from a dataset's images, and how the feature grid maps back
onto the image. How one image enters the backbone (``InputGeometry``: aspect kept,
reflected border, padding) is ``ppdet_wsd_runtime.evidence_input``, shared with the
runtime.
"""
import cv2
import numpy as np

from ppdet_wsd_runtime.evidence_input import COARSEST_STRIDE
PATCH_STRIDE = 8  # the evidence maps' cell size in input pixels


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
