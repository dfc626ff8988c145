"""``ScoredRetinaHead``: ppdet's RetinaHead trained on boxes that carry a confidence."""
import numpy as np
import paddle
from ppdet.modeling.bbox_utils import bbox2delta
from ppdet.modeling.heads.retina_head import RetinaHead

from ..registry import register_module
from ..utils.dist import mean_over_processes


def flatten_levels(maps, channels):
    """Per-level head maps ``[B, A*K, H_l, W_l]`` as ``[B, N, K]`` (K = ``channels``;
    N: every anchor of every level, in RetinaHead's anchor order)."""
    return paddle.concat([x.transpose([0, 2, 3, 1]).reshape([x.shape[0], -1, channels])
                          for x in maps], axis=1)


@register_module
class ScoredRetinaHead(RetinaHead):
    """RetinaHead (same arguments and outputs) whose loss suits pseudo boxes.

    * The box regression of a positive anchor is weighted by the score of the box
      it is assigned to (``targets['gt_score']``, default 1), so weak boxes count less.
    * Every loss is 0-D, also in batches without any positive anchor (only good
      images): box regression is then skipped instead of encoding zero boxes (which
      fails on paddle 2.6) and its loss is an exact 0 that still has a gradient path.
    * ``forward`` always returns ``[cls_logits_list, bbox_reg_list]`` (per level
      ``[B, A*C, H_l, W_l]`` and ``[B, A*4, H_l, W_l]``) so the architecture can
      reuse the logits (MIL) before calling :meth:`get_loss`.
    * ``doubt_weight`` (in [0, 1]) weights the background loss of a defective image's
      **labelled** classes on anchors outside its boxes (``targets['img_label']``): pseudo
      boxes miss instances and parts of defects, so there a labelled class is in doubt,
      not known absent. 1 is plain RetinaNet; 0 ignores those terms, and the image's other
      classes, and every class of a good image, stay clean negatives.
    * A class an image is labelled with but has no box of (a multi-label image whose
      regions all went to its other class, a review that rejected every box of it, a
      ``min_score`` that left none) is ignored on that image: its label says the class
      is there, its missing box does not say where, so none of the image's background
      anchors is a negative of it (anchors of another class's box still are). The image
      still trains the MIL head through its label.

    Args: those of ppdet's ``RetinaHead``, and ``doubt_weight`` (float).
    """

    def __init__(self, num_classes=80, conv_feat='RetinaFeat',
                 anchor_generator='RetinaAnchorGenerator', bbox_assigner='MaxIoUAssigner',
                 loss_class='FocalLoss', loss_bbox='SmoothL1Loss', nms='MultiClassNMS',
                 prior_prob=0.01, nms_pre=1000, weights=[1., 1., 1., 1.], doubt_weight=1.0):
        super().__init__(num_classes=num_classes, conv_feat=conv_feat,
                         anchor_generator=anchor_generator, bbox_assigner=bbox_assigner,
                         loss_class=loss_class, loss_bbox=loss_bbox, nms=nms,
                         prior_prob=prior_prob, nms_pre=nms_pre, weights=weights)
        if not 0.0 <= float(doubt_weight) <= 1.0:
            raise ValueError(f'ScoredRetinaHead.doubt_weight must be in [0, 1], got '
                             f'{doubt_weight}')
        self.doubt_weight = float(doubt_weight)

    def forward(self, neck_feats, targets=None):
        cls_logits, bbox_reg = [], []
        for feat in neck_feats:
            cls_feat, reg_feat = self.conv_feat(feat)
            cls_logits.append(self.retina_cls(cls_feat))
            bbox_reg.append(self.retina_reg(reg_feat))
        return [cls_logits, bbox_reg]

    def _class_weights(self, targets):
        """Per image a float32 ``[1, C]`` weight of each class's background loss, or None
        when every weight is 1 (plain RetinaNet).

        A labelled class (``targets['img_label']``) gets ``doubt_weight`` where a box of
        it exists in the image and 0 where none does (see the class docstring); other
        classes 1. Without ``img_label`` in the batch nothing is weighted, unless
        ``doubt_weight < 1`` asks for it (ValueError)."""
        labels = targets.get('img_label')
        if labels is None:
            if self.doubt_weight != 1.0:
                raise ValueError('ScoredRetinaHead.doubt_weight < 1 needs the image labels '
                                 '(img_label) in the batch')
            return None
        gt_classes = targets['gt_class']
        labels = (paddle.to_tensor(labels).numpy() > 0).reshape([len(gt_classes), -1])
        boxed = np.zeros_like(labels)
        for i, gt_class in enumerate(gt_classes):
            boxed[i, np.asarray(gt_class.numpy(), np.int64).reshape([-1])] = True
        unboxed = labels & ~boxed
        if self.doubt_weight == 1.0 and not unboxed.any():
            return None
        weights = np.where(unboxed, 0.0, np.where(labels, self.doubt_weight, 1.0))
        return [paddle.to_tensor(w[None].astype('float32')) for w in weights]

    def get_loss(self, head_outputs, targets):
        """Focal loss on assigned anchors + score-weighted box loss on positives.

        Args:
            head_outputs: ``forward``'s output.
            targets (dict): ``gt_bbox`` list of float32 ``[N_i, 4]`` (input pixels),
                ``gt_class`` list of int32 ``[N_i, 1]``, optional ``gt_score`` list
                of float32 ``[N_i, 1]`` in [0, 1], and ``img_label`` float32 ``[B, C]``
                multi-hot (needed when ``doubt_weight < 1``).
        Returns:
            dict: 0-D ``loss_cls``, ``loss_reg``, ``loss`` (their sum); both
            normalised by ``max(1, #positive anchors)``, that count averaged over the
            processes of a data-parallel run.
        """
        anchors = paddle.concat(self.anchor_generator(head_outputs[0]))
        cls_logits = flatten_levels(head_outputs[0], self.num_classes)
        bbox_reg = flatten_levels(head_outputs[1], 4)
        scores = targets.get('gt_score') or [None] * len(targets['gt_bbox'])
        weights = self._class_weights(targets)
        cls_pred, cls_tar, cls_weight, reg_pred, reg_tar, reg_weight = [], [], [], [], [], []
        for i, (gt_bbox, gt_class, gt_score) in enumerate(
                zip(targets['gt_bbox'], targets['gt_class'], scores)):
            matches, match_labels = self.bbox_assigner(anchors, gt_bbox)
            pos_mask, neg_mask = match_labels == 1, match_labels == 0
            chosen = paddle.logical_or(pos_mask, neg_mask)
            # negatives point at an extra "background" entry = num_classes
            classes = paddle.concat([gt_class.reshape([-1]).astype('int64'),
                                     paddle.full([1], self.num_classes, 'int64')])
            matches = paddle.where(neg_mask, paddle.full_like(matches, classes.shape[0] - 1),
                                   matches)
            cls_pred.append(cls_logits[i][chosen])
            cls_tar.append(classes[matches[chosen]])
            if weights is not None:  # [M_i, C]: the class weights where background
                background = neg_mask[chosen].astype('float32').unsqueeze(1)
                cls_weight.append(1.0 - background * (1.0 - weights[i]))
            num_pos = int(pos_mask.astype('int32').sum())
            if num_pos == 0:
                continue
            pos_matches = matches[pos_mask]
            reg_pred.append(bbox_reg[i][pos_mask].reshape([-1, 4]))
            reg_tar.append(bbox2delta(anchors[pos_mask], gt_bbox[pos_matches].reshape([-1, 4]),
                                      self.weights))
            weight = paddle.ones([num_pos]) if gt_score is None else \
                gt_score.reshape([-1]).astype('float32')[pos_matches]
            reg_weight.append(weight)
        num_pos = sum(int(p.shape[0]) for p in reg_pred)
        # the mean over data-parallel processes: their averaged gradients then equal one
        # process's on the whole batch, however the positives fall between them
        avg_factor = max(1.0, mean_over_processes(num_pos))
        if weights is None:
            loss_cls = self.loss_class(paddle.concat(cls_pred), paddle.concat(cls_tar),
                                       reduction='sum')
        else:
            loss_cls = (self.loss_class(paddle.concat(cls_pred), paddle.concat(cls_tar),
                                        reduction='none') * paddle.concat(cls_weight)).sum()
        loss_cls = (loss_cls / avg_factor).reshape([])
        if num_pos:
            per_box = self.loss_bbox(paddle.concat(reg_pred), paddle.concat(reg_tar),
                                     reduction='none').sum(axis=1)
            loss_reg = ((per_box * paddle.concat(reg_weight)).sum() / avg_factor).reshape([])
        else:
            loss_reg = (bbox_reg * 0.0).sum().reshape([])
        return {'loss_cls': loss_cls, 'loss_reg': loss_reg, 'loss': loss_cls + loss_reg}
