"""The letterbox geometry: an image fitted into a fixed canvas with its aspect ratio kept
and padded at the bottom and right. One rule for training (``LetterboxResize``), the
pipeline's anchor prior and the deploy runtime."""
import cv2
import numpy as np


def letterbox_scale(height, width, canvas):
    """The one scale that fits a ``height`` x ``width`` image into ``canvas`` ``[H, W]``
    with its aspect ratio kept."""
    return min(canvas[0] / height, canvas[1] / width)


def letterbox(image, canvas, interp=1, fill=127.5):
    """Resize ``image`` into ``canvas`` with its aspect ratio kept, then pad the bottom and
    right edges.

    Args:
        image (np.ndarray): ``[H, W, C]``, any numeric dtype.
        canvas (sequence[int]): ``[H, W]`` in pixels.
        interp (int): OpenCV interpolation (1: bilinear).
        fill (float): value of the padding, in image units.
    Returns:
        tuple: ``(out float32 [canvas H, canvas W, C], (new_h, new_w) ints: the resized
        image's size inside the canvas, scale float: original pixels * scale = canvas
        pixels)``.
    """
    height, width = image.shape[:2]
    scale = letterbox_scale(height, width, canvas)
    new_h = min(canvas[0], max(1, int(round(height * scale))))
    new_w = min(canvas[1], max(1, int(round(width * scale))))
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    out = np.full((canvas[0], canvas[1], image.shape[2]), fill, np.float32)
    out[:new_h, :new_w] = resized.reshape(new_h, new_w, -1)
    return out, (new_h, new_w), scale
