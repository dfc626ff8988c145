"""``PaddleClasBackbone``: any PaddleClas "legendary" network as a ppdet backbone."""
import os

import paddle
import paddle.nn as nn
from ppdet.modeling.shape_spec import ShapeSpec
from ppdet.utils.logger import setup_logger

from ..registry import register_module

logger = setup_logger(__name__)


def build_paddleclas_model(name, return_stages):
    """Build PaddleClas ``name`` (e.g. ``ResNet18_vd``) without weights, returning
    the outputs of ``return_stages`` (indices into the model's stage list)."""
    from paddleclas.ppcls.arch import backbone as zoo  # heavy import, only when used
    if not hasattr(zoo, name):
        raise ValueError(f'PaddleClasBackbone: PaddleClas has no network "{name}"')
    return getattr(zoo, name)(pretrained=False, return_stages=list(return_stages))


def load_local_weights(model, path):
    """Load a local ``.pdparams`` file into ``model``; URLs are refused (offline).

    Returns:
        tuple[list[str], list[str]]: parameter names missing from the file, and
        file entries the model does not use (e.g. the ImageNet ``fc``).
    """
    if path.startswith(('http://', 'https://')):
        raise ValueError(f'PaddleClasBackbone.pretrained must be a local .pdparams path '
                         f'(nothing is downloaded at run time), got {path}')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'PaddleClasBackbone.pretrained: {path} not found')
    state = paddle.load(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unused = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    if mismatched:
        raise ValueError(f'{path}: shape of {mismatched[0]} is {list(state[mismatched[0]].shape)}, '
                         f'the network has {list(own[mismatched[0]].shape)}')
    model.set_state_dict({k: v for k, v in state.items() if k in own})
    return missing, unused


@register_module
class PaddleClasBackbone(nn.Layer):
    """Feature maps of a PaddleClas network (ResNet*_vd, MobileNetV3_*, ...).

    Args:
        name (str): PaddleClas constructor name, e.g. ``ResNet18_vd``,
            ``ResNet50_vd``, ``MobileNetV3_large_x1_0``.
        return_stages (list[int]): stage indices to return, finest first
            (ResNet: 0..3 at strides 4, 8, 16, 32).
        pretrained (str | None): local ``.pdparams`` of the ImageNet model.
    Forward: ``{'image': float32 [B, 3, H, W]}`` -> list of ``[B, C_i, H/s_i, W/s_i]``.
    """

    def __init__(self, name='ResNet18_vd', return_stages=[2, 3], pretrained=None):
        super().__init__()
        self.return_stages = list(return_stages)
        self.net = build_paddleclas_model(name, self.return_stages)
        if pretrained:
            missing, unused = load_local_weights(self.net, pretrained)
            if missing:
                raise ValueError(f'{pretrained}: lacks {len(missing)} parameters of '
                                 f'{name}, e.g. {missing[0]}')
            logger.info(f'{name}: loaded {pretrained} ({len(unused)} unused entries)')
        self._out_shape = self._probe_shapes()

    def _stage_outputs(self, image):
        outputs = self.net(image)
        return [v for k, v in outputs.items() if k != 'logits']

    def _probe_shapes(self):
        """Channels and strides of the returned maps, from one small dry run."""
        size = 64
        was_training = self.training
        self.eval()
        with paddle.no_grad():
            maps = self._stage_outputs(paddle.zeros([1, 3, size, size]))
        if was_training:
            self.train()
        return [ShapeSpec(channels=m.shape[1], stride=size // m.shape[2]) for m in maps]

    @property
    def out_shape(self):
        return self._out_shape

    def forward(self, inputs):
        image = inputs['image'] if isinstance(inputs, dict) else inputs
        return self._stage_outputs(image)
