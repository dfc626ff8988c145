"""Read any industrial image file as 8-bit RGB.

Factory cameras write grey, RGB, RGBA and 16-bit files; the models want one thing:
``uint8`` RGB of shape ``[H, W, 3]``. Everything that is not decodable raises
:class:`ImageReadError` naming the file.
"""
import contextlib
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


@contextlib.contextmanager
def _opencv_silent():
    """OpenCV's own log off (a corrupt file is reported by the caller, naming it)."""
    api = getattr(cv2, 'utils', None) and getattr(cv2.utils, 'logging', None)
    get, set_ = (api.getLogLevel, api.setLogLevel) if api else \
        (getattr(cv2, 'getLogLevel', None), getattr(cv2, 'setLogLevel', None))
    if get is None or set_ is None:
        yield
        return
    level = get()
    set_(0)  # LOG_LEVEL_SILENT
    try:
        yield
    finally:
        set_(level)


def decode_image(path):
    """Decode an image file as stored (no conversion).

    Returns:
        np.ndarray: ``[H, W]``, ``[H, W, 3]`` (BGR) or ``[H, W, 4]`` (BGRA), of the
        file's pixel type (``uint8``, ``uint16``, ...).
    Raises:
        ImageReadError: the file is missing, empty (0 bytes) or not a decodable image;
            the message names the file.
    """
    if not os.path.isfile(path):
        raise ImageReadError(f'{path}: file not found')
    data = np.fromfile(path, dtype=np.uint8)  # works for non-ASCII paths too
    if not data.size:
        raise ImageReadError(f'{path}: empty file (0 bytes)')
    with _opencv_silent():
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(f'{path}: not a readable image (corrupt or unknown format)')
    return image


def read_image_rgb(path):
    """Decode an image file into ``uint8`` RGB ``[H, W, 3]``.

    Raises:
        ImageReadError: the file is missing, empty, not an image, or of an
            unsupported pixel type; the message names the file.
    """
    image = decode_image(path)
    try:
        return to_rgb(to_uint8(image))
    except ImageReadError as err:
        raise ImageReadError(f'{path}: {err}') from None
