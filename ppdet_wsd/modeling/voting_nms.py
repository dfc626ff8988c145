"""``VotingNMS``: ppdet's ``MultiClassNMS`` followed by box voting, as the deploy runtime
runs it."""
import numpy as np
import paddle
from ppdet.modeling.layers import MultiClassNMS

from ppdet_wsd_runtime.nms import check_vote_iou, multiclass_nms

from ..registry import register_module


@register_module
class VotingNMS(MultiClassNMS):
    """``MultiClassNMS`` (same arguments and outputs) whose kept boxes are voted
    (:func:`ppdet_wsd_runtime.nms.vote_boxes`): each becomes the score-weighted mean of its
    class's candidates overlapping it by at least ``vote_iou``.

    With voting the suppression runs in numpy (:func:`ppdet_wsd_runtime.nms.multiclass_nms`,
    the rules of paddle's kernel), the one implementation the evaluation, ``tools/infer.py``
    and the deploy runtime share; ``vote_iou: 0`` is ppdet's ``MultiClassNMS`` unchanged.

    Args: those of ``MultiClassNMS``, and ``vote_iou`` (float, 0 or in (0, 1]).
    """

    def __init__(self, score_threshold=.05, nms_top_k=-1, keep_top_k=100, nms_threshold=.5,
                 normalized=True, nms_eta=1.0, return_index=False, return_rois_num=True,
                 trt=False, vote_iou=0.5):
        super().__init__(score_threshold=score_threshold, nms_top_k=nms_top_k,
                         keep_top_k=keep_top_k, nms_threshold=nms_threshold,
                         normalized=normalized, nms_eta=nms_eta, return_index=return_index,
                         return_rois_num=return_rois_num, trt=trt)
        self.vote_iou = check_vote_iou(vote_iou)

    def __call__(self, bboxes, score, background_label=-1):
        """Detections of a batch.

        Args:
            bboxes (Tensor): float32 ``[B, N, 4]`` (x1, y1, x2, y2).
            score (Tensor): float32 ``[B, C, N]`` in [0, 1].
            background_label (int): must be -1 (RetinaNet has no background class).
        Returns:
            tuple: float32 ``[M, 6]`` (class, score, x1, y1, x2, y2; by image, then class,
            then score), int32 ``[B]`` detections per image, None.
        """
        if self.vote_iou == 0.0:
            plain = {k: v for k, v in self.__dict__.items() if k != 'vote_iou'}
            return MultiClassNMS(**plain)(bboxes, score, background_label)
        if isinstance(bboxes, (tuple, list)):
            raise ValueError('VotingNMS votes over [B, N, 4] boxes only (RetinaHead)')
        if background_label != -1:
            raise ValueError('VotingNMS has no background class (background_label -1)')
        settings = nms_settings(self)
        rows = [multiclass_nms(b, s, **settings)
                for b, s in zip(np.asarray(bboxes.numpy()), np.asarray(score.numpy()))]
        return (paddle.to_tensor(np.concatenate(rows).reshape(-1, 6)),
                paddle.to_tensor(np.asarray([len(r) for r in rows], np.int32)), None)


def nms_settings(nms):
    """The settings of :func:`ppdet_wsd_runtime.nms.multiclass_nms` that reproduce ``nms``
    (a ``MultiClassNMS``, ``vote_iou`` 0, or a ``VotingNMS``), as plain values."""
    return {'score_threshold': float(nms.score_threshold), 'nms_top_k': int(nms.nms_top_k),
            'keep_top_k': int(nms.keep_top_k), 'nms_threshold': float(nms.nms_threshold),
            'normalized': bool(nms.normalized), 'nms_eta': float(nms.nms_eta),
            'vote_iou': float(getattr(nms, 'vote_iou', 0.0))}
