"""Pictures a person can judge: class maps laid over the image."""
import cv2
import numpy as np


def normalise_map(cam):
    """Min-max scale a class map to [0, 1] (as Choe et al.'s WSOL evaluation does).

    A raw CAM may be negative everywhere (a class the classifier doubts); min-max
    keeps where it is *least* negative, so every labelled image still gets a map.

    Args:
        cam (np.ndarray): float ``[h, w]``, any range.
    Returns:
        np.ndarray: float32 ``[h, w]`` in [0, 1]: minimum -> 0, maximum -> 1 (all zero
        for a constant map).
    """
    cam = np.asarray(cam, dtype=np.float32)
    if not cam.size:
        return cam
    low, span = float(cam.min()), float(cam.max() - cam.min())
    return (cam - low) / span if span > 0 else np.zeros_like(cam)


def resize_map(cam, height, width):
    """Bilinearly resize a map ``[h, w]`` to ``[height, width]`` (the map covers the whole image)."""
    return cv2.resize(np.asarray(cam, dtype=np.float32), (int(width), int(height)),
                      interpolation=cv2.INTER_LINEAR)


def overlay_heatmap(image, heat, alpha=0.45):
    """Blend a JET-coloured heat map over an image.

    Args:
        image (np.ndarray): uint8 RGB ``[H, W, 3]``.
        heat (np.ndarray): float ``[H, W]`` in [0, 1].
        alpha (float): weight of the colour map.
    Returns:
        np.ndarray: uint8 RGB ``[H, W, 3]``.
    """
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(image, 1.0 - alpha, colour, alpha, 0.0)


def caption(image, text):
    """Write ``text`` on a dark band above an RGB image; returns a new uint8 RGB image."""
    band = np.zeros((22, image.shape[1], 3), dtype=np.uint8)
    cv2.putText(band, text, (3, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)
