"""Put maps computed on the network input back onto the original image."""
import cv2
import numpy as np


def align_to_original(maps, im_shape, orig_hw):
    """Undo the reader's resize (and any bottom/right padding) for a stack of maps.

    ppdet's ``Resize`` records the resized image size in ``im_shape``; batch padding
    (``PadBatch``) only adds rows/columns at the bottom/right. So the valid region is
    the top-left ``im_shape`` of the input, which is resized to the original size.

    Args:
        maps (np.ndarray): float ``[K, H_in, W_in]`` maps at network-input resolution.
        im_shape (sequence): ``(h_resized, w_resized)`` of the image inside the input.
        orig_hw (sequence): ``(h, w)`` of the original image.
    Returns:
        np.ndarray: float32 ``[K, h, w]``.
    """
    rh, rw = (int(round(float(v))) for v in im_shape)
    h, w = (int(v) for v in orig_hw)
    valid = np.asarray(maps, dtype=np.float32)[:, :rh, :rw]
    return np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in valid])
