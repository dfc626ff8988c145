"""Plain CAM (Zhou et al., CVPR 2016): the classifier's own class maps."""
import paddle

from ..modeling.cam_classifier import CAMClassifier
from .base import BaseCAM, check_classes


class ClassMapCAM(BaseCAM):
    """The class maps a :class:`CAMClassifier` computes anyway: its head's 1x1 class-conv output
    (bias included) at the finest backbone stride, raw (no ReLU: CAM has none, and a map
    that is negative everywhere still ranks locations). One forward pass without gradients through
    the model's own forward, so the frozen-feature cache is used when it is on.

    Args:
        model (CAMClassifier): only this architecture has class maps.
        target_layer (None): accepted for a uniform constructor; the maps always come from the
            head, so anything but None is an error.
    """

    def __init__(self, model, target_layer=None):
        if not isinstance(model, CAMClassifier):
            raise TypeError(f'ClassMapCAM needs a CAMClassifier (class maps from its head), got '
                            f'{type(model).__name__}; use a gradient method with a target_layer')
        if target_layer is not None:
            raise ValueError('ClassMapCAM reads the class maps of the head; it takes no '
                             'target_layer')
        super().__init__(model)

    rectify = False

    def class_maps(self, image, classes):
        with paddle.no_grad():
            out = self.model({'image': image})
        classes = check_classes(classes, out['scores'].shape[1])
        maps = paddle.index_select(out['cam'], paddle.to_tensor(classes), axis=1)
        return maps, out['scores'], classes
