"""Heat map -> boxes: threshold a map and box its connected regions (OpenCV contours)."""
import cv2
import numpy as np


def boxes_from_heatmap(heat, threshold, all_contours=True):
    """Box the regions of ``heat > threshold`` (strictly above, as in Choe et al.).

    Args:
        heat (np.ndarray): float ``[H, W]``, normally in [0, 1] (see
            ``ppdet_wsd_runtime.heatmap.normalise_map``).
        threshold (float): pixels with ``heat > threshold`` are foreground.
        all_contours (bool): one box per outer contour (several instances), largest
            box first; otherwise only the box of the largest contour (by contour area).
    Returns:
        np.ndarray: float32 ``[N, 4]`` boxes ``(x1, y1, x2, y2)`` in pixel-edge
        coordinates (a single pixel at column 3, row 5 is ``(3, 5, 4, 6)``);
        ``[0, 4]`` when nothing passes the threshold.
    """
    mask = (np.asarray(heat) > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 4), dtype=np.float32)
    if not all_contours:
        contours = [max(contours, key=cv2.contourArea)]
    rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.float32)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    return boxes[np.argsort(-rects[:, 2] * rects[:, 3], kind='stable')]
