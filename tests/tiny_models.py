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
