"""Draw boxes on images with OpenCV."""
import cv2
import numpy as np

PALETTE = [(255, 64, 64), (64, 200, 255), (255, 200, 0), (160, 255, 96), (255, 96, 255),
           (255, 255, 255), (96, 128, 255), (0, 255, 160)]


def class_colour(index):
    """An RGB colour for class ``index`` (cycles through a fixed palette)."""
    return PALETTE[index % len(PALETTE)]


def draw_boxes(image, boxes, colours, labels=None, thickness=1):
    """Draw ``boxes`` on a copy of ``image``.

    Args:
        image (np.ndarray): uint8 RGB ``[H, W, 3]``.
        boxes (sequence): ``[x1, y1, x2, y2]`` pixel-edge boxes.
        colours (sequence): an RGB tuple per box.
        labels (sequence[str] | None): short text per box, drawn above it.
    Returns:
        np.ndarray: uint8 RGB ``[H, W, 3]``.
    """
    out = np.ascontiguousarray(image.copy())
    for i, (box, colour) in enumerate(zip(boxes, colours)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, thickness)
        if labels:
            cv2.putText(out, labels[i], (x1, max(9, y1 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        colour, 1, cv2.LINE_AA)
    return out
