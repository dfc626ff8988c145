"""Grad-CAM (Selvaraju et al., ICCV 2017)."""
from .base import GradientCAM


class GradCAM(GradientCAM):
    """Channel weights = the spatial mean of the gradient; map = ``sum_n w_n * A_n``.

    On a :class:`CAMClassifier` with average pooling and the default target layer the weights
    are the class-conv weights / (h * w), so the map is the bias-free CAM divided by h * w.
    """

    def combine(self, activation, grad):
        weights = grad.mean(axis=[2, 3], keepdim=True)
        return (weights * activation).sum(axis=1)
