"""``RetinaNetMIL``: RetinaNet on (pseudo) boxes plus a MIL head on image labels."""
import paddle.nn.functional as F
from ppdet.core.workspace import create

from ..registry import register_module
from .cam_head import pool_maps
from .frozen_backbone import FrozenBackboneArch
from .scored_retina_head import flatten_levels


@register_module
class RetinaNetMIL(FrozenBackboneArch):
    """Backbone -> FPN -> :class:`ScoredRetinaHead` (+ :class:`MILHead`).

    The name keeps ``RetinaNet`` in it: ppdet's exporter looks the architecture up by
    that substring.

    Inputs (ppdet batch dict): ``image`` float32 ``[B, 3, H, W]``; for training
    ``gt_bbox`` / ``gt_class`` / ``gt_score`` lists (see
    :meth:`ScoredRetinaHead.get_loss`) and ``img_label`` float32 ``[B, C]``; for
    prediction ``im_shape`` and ``scale_factor`` ``[B, 2]``.

    Training returns 0-D ``loss_cls``, ``loss_reg``, ``loss_mil`` and ``loss``.
    Prediction returns ``bbox`` float32 ``[M, 6]`` (class, score, x1, y1, x2, y2 in
    original image pixels), ``bbox_num`` int32 ``[B]`` and ``im_score`` float32
    ``[B, C]`` in [0, 1]: the MIL head's image probabilities, or without a MIL head
    the strongest anchor's class probability.

    Args:
        backbone, neck, head: as ppdet's ``RetinaNet`` (``head``: ScoredRetinaHead).
        mil_head (MILHead | None): image-level MIL head; ``None`` trains on boxes only
            (the fully supervised reference).
        freeze_backbone, cache_features, cache_max_mb: see :class:`FrozenBackboneArch`.
    """
    __category__ = 'architecture'

    def __init__(self, backbone, neck, head, mil_head=None, freeze_backbone=True,
                 cache_features=True, cache_max_mb=4096):
        super().__init__(backbone, freeze_backbone, cache_features, cache_max_mb)
        self.neck = neck
        self.head = head
        self.mil_head = mil_head

    @classmethod
    def from_config(cls, cfg, *args, **kwargs):
        backbone = create(cfg['backbone'])
        neck = create(cfg['neck'], input_shape=backbone.out_shape)
        head = create(cfg['head'], input_shape=neck.out_shape)
        mil_head = create(cfg['mil_head']) if cfg.get('mil_head') else None
        return {'backbone': backbone, 'neck': neck, 'head': head, 'mil_head': mil_head}

    @property
    def finest_stride(self):
        """The stride of the head's finest anchor level, in input pixels (float)."""
        return float(self.head.anchor_generator.strides[0])

    def _head_outputs(self):
        return self.head(self.neck(self.backbone_features(self.inputs['image'])))

    def image_scores(self, cls_logits_list):
        """Image-level class probabilities ``[B, C]`` from the head's class logits."""
        if self.mil_head is not None:
            return self.mil_head.probabilities(self.mil_head(cls_logits_list))
        logits = flatten_levels(cls_logits_list, self.head.num_classes)
        return F.sigmoid(pool_maps(logits.transpose([0, 2, 1]), 'max'))

    def get_loss(self):
        head_outputs = self._head_outputs()
        losses = self.head.get_loss(head_outputs, self.inputs)
        if self.mil_head is not None:
            losses['loss_mil'] = self.mil_head.loss(self.mil_head(head_outputs[0]),
                                                    self.inputs['img_label'])
            losses['loss'] = losses['loss'] + losses['loss_mil']
        return losses

    def get_pred(self):
        head_outputs = self._head_outputs()
        bbox, bbox_num, _ = self.head.post_process(head_outputs, self.inputs['im_shape'],
                                                   self.inputs['scale_factor'])
        return {'bbox': bbox, 'bbox_num': bbox_num,
                'im_score': self.image_scores(head_outputs[0])}
