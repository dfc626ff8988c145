"""Small numpy-in, numpy-out wrappers of box operations."""
import numpy as np
import paddle
from paddle.vision.ops import nms


def nms_keep(boxes, scores, iou, limit=None):
    """Indices kept by non-maximum suppression, best first.

    Args:
        boxes (np.ndarray): float32 ``[N, 4]`` xyxy.
        scores (np.ndarray): float32 ``[N]``.
        iou (float): a box overlapping a better one by more than this is dropped.
        limit (int | None): keep at most this many.
    Returns:
        np.ndarray: int64 ``[K]`` indices into ``boxes``, by decreasing score.
    """
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    keep = nms(paddle.to_tensor(np.asarray(boxes, np.float32)), iou,
               paddle.to_tensor(np.asarray(scores, np.float32))).numpy().astype(np.int64)
    return keep[:limit] if limit is not None else keep
