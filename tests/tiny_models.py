"""Tiny stand-ins for real networks, so model tests run in milliseconds."""
import paddle
from ppdet.modeling.shape_spec import ShapeSpec

from ppdet_wsd.modeling.cam_classifier import CAMClassifier
from ppdet_wsd.modeling.cam_head import CAMHead


class TinyBackbone(paddle.nn.Layer):
    """One or two levels (stride 2: 4 channels, stride 4: 6 channels) with a BatchNorm;
    ``calls`` counts forward passes."""

    def __init__(self, levels=2):
        super().__init__()
        self.levels = levels
        self.conv1 = paddle.nn.Conv2D(3, 4, 3, stride=2, padding=1)
        self.bn = paddle.nn.BatchNorm2D(4)
        self.conv2 = paddle.nn.Conv2D(4, 6, 3, stride=2, padding=1)
        self.calls = 0

    @property
    def out_shape(self):
        return [ShapeSpec(channels=4, stride=2), ShapeSpec(channels=6, stride=4)][:self.levels]

    def forward(self, inputs):
        self.calls += 1
        x = self.bn(self.conv1(inputs['image']))
        return [x, self.conv2(x)][:self.levels]


def tiny_classifier(levels=2, pooling='lse', num_classes=3, dropout=0.2, **kwargs):
    """A seeded ``CAMClassifier`` on :class:`TinyBackbone`."""
    paddle.seed(0)
    backbone = TinyBackbone(levels)
    head = CAMHead(num_classes=num_classes, in_channels=[4, 10][levels - 1], pooling=pooling,
                   dropout=dropout)
    return CAMClassifier(backbone, head, **kwargs)


def tiny_detector(num_classes=3, mil_pooling='lse', with_mil=True, doubt_weight=1.0,
                  backbone=None, vote_iou=0.5, **kwargs):
    """A seeded ``RetinaNetMIL`` on :class:`TinyBackbone` (strides 2 and 4, 8-channel FPN,
    one conv per tower, anchors 4-10 px), or on ``backbone`` (e.g. the frozen ImageNet
    EfficientNet-Lite0 of :func:`lite_backbone`; anchors at its strides); its NMS votes
    boxes at ``vote_iou`` as the pipeline's does (0: plain NMS)."""
    from ppdet.modeling.assigners.max_iou_assigner import MaxIoUAssigner
    from ppdet.modeling.heads.retina_head import RetinaFeat
    from ppdet.modeling.losses import FocalLoss, SmoothL1Loss
    from ppdet.modeling.necks import FPN
    from ppdet.modeling.proposal_generator.anchor_generator import RetinaAnchorGenerator

    from ppdet_wsd.modeling.mil_head import MILHead
    from ppdet_wsd.modeling.retinanet_mil import RetinaNetMIL
    from ppdet_wsd.modeling.scored_retina_head import ScoredRetinaHead
    from ppdet_wsd.modeling.voting_nms import VotingNMS

    paddle.seed(0)
    backbone = backbone or TinyBackbone(levels=2)
    shapes = backbone.out_shape
    neck = FPN(in_channels=[s.channels for s in shapes], out_channel=8,
               spatial_scales=[1.0 / s.stride for s in shapes], extra_stage=0)
    head = ScoredRetinaHead(
        num_classes=num_classes,
        conv_feat=RetinaFeat(feat_in=8, feat_out=8, num_convs=1, norm_type=None),
        anchor_generator=RetinaAnchorGenerator(octave_base_scale=2, scales_per_octave=2,
                                               strides=[float(s.stride) for s in shapes]),
        bbox_assigner=MaxIoUAssigner(positive_overlap=0.5, negative_overlap=0.4,
                                     allow_low_quality=True),
        loss_class=FocalLoss(gamma=2.0, alpha=0.25), loss_bbox=SmoothL1Loss(beta=0.0),
        nms=VotingNMS(score_threshold=0.0, keep_top_k=20, nms_threshold=0.5,
                      vote_iou=vote_iou),
        doubt_weight=doubt_weight)
    mil = MILHead(num_classes=num_classes, pooling=mil_pooling) if with_mil else None
    return RetinaNetMIL(backbone, neck, head, mil, **kwargs)


def lite_backbone():
    """The ImageNet EfficientNet-Lite0 as the pipeline's detector has it (strides 8, 16, 32;
    the stage-1 features come from the same network)."""
    from ppdet_wsd.backbones.efficientnet_lite import EfficientNetLite
    return EfficientNetLite(return_idx=[2, 4, 6])
