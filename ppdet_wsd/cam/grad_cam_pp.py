"""Grad-CAM++ (Chattopadhay et al., WACV 2018)."""
import paddle
import paddle.nn.functional as F

from .base import GradientCAM


class GradCAMPlusPlus(GradientCAM):
    """Channel weights ``w_n = sum_ij alpha_nij * ReLU(G_nij)`` with
    ``alpha = G^2 / (2 G^2 + sum_ij(A_n) * G^3)`` (0 where the denominator is 0).

    ``alpha`` is the paper's closed form for an exponential of the logit over a piecewise-linear
    network; the common ``exp(logit)`` factor of the weights is left out, as in most
    implementations, so the map scale follows the logit's gradient like Grad-CAM's.
    """

    def combine(self, activation, grad):
        grad2 = grad * grad
        denom = 2 * grad2 + activation.sum(axis=[2, 3], keepdim=True) * grad2 * grad
        alpha = grad2 / paddle.where(denom != 0, denom, paddle.ones_like(denom))
        weights = (alpha * F.relu(grad)).sum(axis=[2, 3], keepdim=True)
        return (weights * activation).sum(axis=1)
