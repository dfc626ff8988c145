"""Read any industrial image file as 8-bit RGB.

Factory cameras write grey, RGB, RGBA and 16-bit files; the models want one thing:
``uint8`` RGB of shape ``[H, W, 3]``. Everything that is not decodable raises
:class:`ImageReadError` naming the file.
"""
import os

import cv2
import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')


class ImageReadError(ValueError):
    """An image file is missing or cannot be decoded."""


def to_uint8(image):
    """Scale an integer image to ``uint8`` by the range of its dtype.

    Args:
        image (np.ndarray): ``uint8`` or ``uint16`` array of any shape.
    Returns:
        np.ndarray: ``uint8`` array of the same shape; 16-bit values ``v`` become
        ``round(v / 257)`` so 0 -> 0 and 65535 -> 255.
    """
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.round(image.astype(np.float32) / 257.0).astype(np.uint8)
    raise ImageReadError(f'unsupported pixel type {image.dtype}')


def to_rgb(image):
    """Turn a decoded OpenCV image (grey, BGR or BGRA) into RGB.

    Args:
        image (np.ndarray): ``uint8`` array ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]``
            (BGR) or ``[H, W, 4]`` (BGRA; alpha is dropped).
    Returns:
        np.ndarray: ``uint8`` ``[H, W, 3]`` RGB.
    """
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    raise ImageReadError(f'unsupported channel count {image.shape[2]}')


def read_image_rgb(path):
    """Decode an image file into ``uint8`` RGB ``[H, W, 3]``.

    Raises:
        ImageReadError: the file is missing, empty, not an image, or of an
            unsupported pixel type; the message names the file.
    """
    if not os.path.isfile(path):
        raise ImageReadError(f'{path}: file not found')
    data = np.fromfile(path, dtype=np.uint8)  # works for non-ASCII paths too
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ImageReadError(f'{path}: not a readable image (corrupt or unknown format)')
    try:
        return to_rgb(to_uint8(image))
    except ImageReadError as err:
        raise ImageReadError(f'{path}: {err}') from None
