"""A linear patch classifier learnt from image labels alone (multiple-instance learning).

Each image is a bag of patch descriptors. For class ``k`` the image score is the mean of
its top ``top_fraction`` patch logits (top-k pooling), trained with binary cross-entropy
against the image label: a defective image of class ``k`` needs a few patches that say
``k``; an image without ``k`` needs none. The pooled share starts at all patches (mean
pooling) and shrinks geometrically to ``top_fraction`` over the first quarter of the
epochs, so the first steps see every patch of a defective image and the classifier does
not lock onto whichever patches a random start ranked first. Every patch of a good image is, in addition, a
negative instance of every class (a random sample of them per epoch). Plain numpy with
Adam: no framework state, the same result for the same seed.
"""
import numpy as np
from scipy.special import expit


def top_k_count(num_patches, top_fraction):
    """Patches pooled for an image of ``num_patches`` patches (at least 1)."""
    return max(1, int(np.ceil(top_fraction * num_patches)))


def _bce_grad(logit, target):
    """d BCE / d logit, elementwise."""
    return expit(logit) - target


class PatchMIL:
    """Linear patch classifier ``logits = x @ weight + bias`` for ``C`` defect classes.

    Args:
        top_fraction (float): share of an image's patches averaged into its score
            (0.01: the 1% most confident patches).
        epochs (int): passes over the images.
        learning_rate (float): Adam step size.
        weight_decay (float): L2 penalty on the weights.
        batch_images (int): images per step.
        good_patches (int): patches sampled per good image per epoch as negatives.
        seed (int): initialisation and sampling.
    """

    def __init__(self, top_fraction=0.01, epochs=40, learning_rate=0.02, weight_decay=1e-4,
                 batch_images=32, good_patches=256, seed=0):
        self.top_fraction = top_fraction
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_images = batch_images
        self.good_patches = good_patches
        self.seed = seed
        self.weight = self.bias = None

    def fit(self, bags, labels):
        """Learn from ``bags`` (list of float ``[n_i, D]`` patch descriptors, already
        standardised) and ``labels`` (float ``[N, C]`` multi-hot; all-zero = good).
        Returns self."""
        rng = np.random.default_rng(self.seed)
        labels = np.asarray(labels, np.float32)
        dim, num_classes = bags[0].shape[1], labels.shape[1]
        self.weight = rng.normal(0, 0.01, (dim, num_classes)).astype(np.float32)
        self.bias = np.zeros(num_classes, np.float32)
        params = [self.weight, self.bias]
        moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
        good = labels.sum(axis=1) == 0
        step = 0
        warmup = max(1, self.epochs // 4)
        for epoch in range(self.epochs):
            fraction = self.top_fraction ** min(1.0, epoch / warmup)
            order = rng.permutation(len(bags))
            for start in range(0, len(bags), self.batch_images):
                batch = order[start:start + self.batch_images]
                grads = self._gradients(bags, labels, good, batch, rng, fraction)
                step += 1
                for p, g, m in zip(params, grads, moments):
                    self._adam(p, g, m, step)
        return self

    def _gradients(self, bags, labels, good, batch, rng, fraction):
        """Gradients of the batch's mean loss w.r.t. (weight, bias), pooling the top
        ``fraction`` of each defective image's patches."""
        g_w = self.weight_decay * self.weight
        g_b = np.zeros_like(self.bias)
        n = float(len(batch))
        for i in batch:
            x = np.asarray(bags[i], np.float32)
            if good[i]:  # every sampled patch is a negative of every class
                take = rng.choice(len(x), min(self.good_patches, len(x)), replace=False)
                xs = x[take]
                g = _bce_grad(xs @ self.weight + self.bias, 0.0) / (len(xs) * n)
                g_w = g_w + xs.T @ g
                g_b = g_b + g.sum(axis=0)
                continue
            logits = x @ self.weight + self.bias                       # [n_i, C]
            k = top_k_count(len(x), fraction)
            top = np.argpartition(-logits, k - 1, axis=0)[:k]          # [k, C]
            pooled = np.take_along_axis(logits, top, axis=0).mean(axis=0)
            g_pooled = _bce_grad(pooled, labels[i]) / n                # [C]
            for c in range(logits.shape[1]):
                g_w[:, c] += x[top[:, c]].sum(axis=0) * (g_pooled[c] / k)
            g_b = g_b + g_pooled
        return g_w, g_b

    def _adam(self, param, grad, moment, step, beta1=0.9, beta2=0.999, eps=1e-8):
        moment[0] *= beta1
        moment[0] += (1 - beta1) * grad
        moment[1] *= beta2
        moment[1] += (1 - beta2) * grad * grad
        m_hat = moment[0] / (1 - beta1 ** step)
        v_hat = moment[1] / (1 - beta2 ** step)
        param -= self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)

    def logits(self, patches):
        """Patch logits: float ``[..., D]`` -> float32 ``[..., C]``."""
        return np.asarray(patches, np.float32) @ self.weight + self.bias

    def image_logits(self, patches):
        """Top-k pooled logits of one image: float ``[rows, cols, D]`` -> ``[C]``."""
        flat = self.logits(patches).reshape(-1, self.weight.shape[1])
        k = top_k_count(len(flat), self.top_fraction)
        return -np.sort(-flat, axis=0)[:k].mean(axis=0)
