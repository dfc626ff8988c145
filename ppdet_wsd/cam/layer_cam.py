"""LayerCAM (Jiang et al., TIP 2021)."""
import paddle.nn.functional as F

from .base import GradientCAM


class LayerCAM(GradientCAM):
    """Per-location weights: map = ``sum_n ReLU(G_n) * A_n`` (the positive gradient at each
    location weights the activation there), which keeps fine detail on shallow layers."""

    def combine(self, activation, grad):
        return (F.relu(grad) * activation).sum(axis=1)
