"""Multi-class NMS in numpy with the rules of paddle's ``multiclass_nms3`` CPU kernel (what
ppdet's ``MultiClassNMS`` runs inside an exported graph), so detections match the eager
model's: per class, scores strictly above ``score_threshold``, sorted descending (stable),
the first ``nms_top_k`` kept, greedy suppression of boxes whose IoU with a kept box exceeds
``nms_threshold``; then the best ``keep_top_k`` over all classes; rows ordered by class,
then by score.

Optionally (``vote_iou > 0``) each kept box is then replaced by **box voting** (Gidaris and
Komodakis, ICCV 2015): the score-weighted mean of its class's candidates that overlap it by
at least ``vote_iou``, itself included. Its score stays. A RetinaNet places several boxes of
slightly different extents on one defect and the strongest is often not the best fitting;
their mean is (docs/detector.md, "Box voting").
"""
import numpy as np


def box_iou_one(box, boxes, normalized=True):
    """IoU of ``box`` float32 ``[4]`` with each of ``boxes`` ``[n, 4]`` (x1, y1, x2, y2), as
    paddle computes it: 0 for disjoint boxes, the area of an inverted box is 0, and with
    ``normalized=False`` widths and heights count one pixel more. Returns float32 ``[n]``
    (NaN where both areas and the overlap are 0, which never passes an IoU test)."""
    extra = np.float32(0.0 if normalized else 1.0)

    def area(b):
        w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
        return np.where((w < 0) | (h < 0), np.float32(0), (w + extra) * (h + extra))

    disjoint = ((boxes[:, 0] > box[2]) | (boxes[:, 2] < box[0])
                | (boxes[:, 1] > box[3]) | (boxes[:, 3] < box[1]))
    inter_w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]) + extra
    inter_h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]) + extra
    inter = inter_w * inter_h
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (area(box) + area(boxes) - inter)
    return np.where(disjoint, np.float32(0), iou).astype(np.float32)


def ranked_candidates(scores, score_threshold, nms_top_k):
    """Indices of one class's candidates, best first: scores ``[n]`` (float32) strictly
    above ``score_threshold``, sorted descending (stable), the first ``nms_top_k`` (-1:
    all)."""
    candidates = np.flatnonzero(scores > score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind='stable')]
    return order[:nms_top_k] if nms_top_k > -1 else order


def nms_one_class(boxes, order, nms_threshold, normalized):
    """Indices into ``boxes`` ``[n, 4]`` kept for one class, best first, from its
    :func:`ranked_candidates` ``order``. A candidate is dropped unless its IoU with every
    kept box is ``<= nms_threshold`` (as the kernel tests it, so a NaN IoU drops it too)."""
    ordered = boxes[order]
    dropped = np.zeros(len(order), dtype=bool)
    kept = []
    for i in range(len(order)):
        if dropped[i]:
            continue
        kept.append(order[i])
        dropped[i + 1:] |= ~(box_iou_one(ordered[i], ordered[i + 1:], normalized)
                             <= nms_threshold)
    return np.asarray(kept, dtype=np.int64)


def check_vote_iou(vote_iou):
    """``vote_iou`` as a float, ValueError unless 0 (no voting) or in (0, 1]."""
    if not 0.0 <= float(vote_iou) <= 1.0:
        raise ValueError(f'vote_iou must be 0 (no voting) or in (0, 1], got {vote_iou}')
    return float(vote_iou)


def vote_boxes(boxes, scores, kept, order, vote_iou, normalized):
    """The voted boxes of one class: float32 ``[len(kept), 4]``.

    Args:
        boxes (np.ndarray): float32 ``[n, 4]``; scores (np.ndarray): float32 ``[n]``.
        kept (np.ndarray): int64 indices kept by :func:`nms_one_class`.
        order (np.ndarray): the class's :func:`ranked_candidates`, the boxes that vote.
        vote_iou (float): in (0, 1]; a candidate whose IoU with a kept box is at least
            this takes part in its mean, weighted by its score.
        normalized (bool): as :func:`box_iou_one`.
    """
    voted = np.empty((len(kept), 4), np.float32)
    for row, index in enumerate(kept):
        near = order[box_iou_one(boxes[index], boxes[order], normalized) >= vote_iou]
        near = near if len(near) else np.asarray([index])
        weights = scores[near].astype(np.float64)
        voted[row] = (weights[:, None] * boxes[near]).sum(axis=0) / weights.sum()
    return voted


def multiclass_nms(boxes, scores, score_threshold=0.05, nms_top_k=-1, keep_top_k=100,
                   nms_threshold=0.5, normalized=True, nms_eta=1.0, vote_iou=0.0):
    """Detections of one image.

    Args:
        boxes (np.ndarray): float32 ``[n, 4]`` (x1, y1, x2, y2), shared by the classes.
        scores (np.ndarray): float32 ``[C, n]`` in [0, 1].
        score_threshold, nms_top_k, keep_top_k, nms_threshold, normalized, nms_eta: as
            ppdet's ``MultiClassNMS`` (-1: no limit); adaptive NMS (``nms_eta < 1``) is
            not implemented (ValueError).
        vote_iou (float): 0 (plain NMS) or in (0, 1]: box voting (:func:`vote_boxes`).
    Returns:
        np.ndarray: float32 ``[m, 6]`` (class, score, x1, y1, x2, y2), by class, then score.
    """
    if nms_eta < 1:
        raise ValueError(f'adaptive NMS (nms_eta {nms_eta} < 1) is not implemented by the '
                         f'deploy runtime')
    vote_iou = check_vote_iou(vote_iou)
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores, np.float32)
    picked, final = [], {}
    for c in range(scores.shape[0]):
        order = ranked_candidates(scores[c], np.float32(score_threshold), nms_top_k)
        kept = nms_one_class(boxes, order, np.float32(nms_threshold), normalized)
        picked += [(c, i) for i in kept]
        if vote_iou > 0 and len(kept):
            voted = vote_boxes(boxes, scores[c], kept, order, np.float32(vote_iou), normalized)
            final.update({(c, i): box for i, box in zip(kept, voted)})
    if keep_top_k > -1 and len(picked) > keep_top_k:
        best = sorted(range(len(picked)), key=lambda k: -scores[picked[k]])[:keep_top_k]
        picked = sorted((picked[k] for k in best), key=lambda p: (p[0], -scores[p]))
    rows = [[c, scores[c, i], *final.get((c, i), boxes[i])] for c, i in picked]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 6)
