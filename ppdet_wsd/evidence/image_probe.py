"""The image-level verdict: a linear probe on globally pooled frozen features.

One logistic regression per defect class (one-vs-rest; scikit-learn's lbfgs, so the same
data gives the same model) on standardised pooled head features. Good images are negatives
of every class; an image of class ``j`` is a negative of every other class.
"""
import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression


class ImageProbe:
    """Per-class logistic regression on pooled features.

    Args:
        regularisation (float): scikit-learn's ``C`` (inverse L2 strength).
        max_iter (int): lbfgs iterations.
    """

    def __init__(self, regularisation=0.1, max_iter=3000):
        self.regularisation = regularisation
        self.max_iter = max_iter
        self.mean = self.scale = self.coef = self.intercept = None

    def fit(self, pooled, labels):
        """``pooled`` float ``[N, F]``, ``labels`` multi-hot ``[N, C]``. A class whose
        label is constant over the images gets a constant score (its prior). Returns self."""
        pooled = np.asarray(pooled, np.float64)
        labels = np.asarray(labels) > 0.5
        self.mean = pooled.mean(axis=0)
        self.scale = pooled.std(axis=0) + 1e-6
        x = (pooled - self.mean) / self.scale
        coef, intercept = [], []
        for c in range(labels.shape[1]):
            y = labels[:, c]
            if y.all() or not y.any():
                prior = np.clip(y.mean(), 1e-3, 1 - 1e-3)
                coef.append(np.zeros(x.shape[1]))
                intercept.append(np.log(prior / (1 - prior)))
                continue
            model = LogisticRegression(C=self.regularisation, max_iter=self.max_iter)
            model.fit(x, y)
            coef.append(model.coef_[0])
            intercept.append(model.intercept_[0])
        self.coef = np.stack(coef).astype(np.float32)          # [C, F]
        self.intercept = np.array(intercept, np.float32)        # [C]
        return self

    def scores(self, pooled):
        """Class probabilities: float ``[N, F]`` -> float32 ``[N, C]`` in (0, 1)."""
        x = (np.asarray(pooled, np.float64) - self.mean) / self.scale
        logits = x @ self.coef.T.astype(np.float64) + self.intercept
        return expit(logits).astype(np.float32)

    def state(self):
        """Arrays to save (see :meth:`load`)."""
        return {'mean': self.mean, 'scale': self.scale, 'coef': self.coef,
                'intercept': self.intercept}

    @classmethod
    def load(cls, state):
        probe = cls()
        probe.mean, probe.scale = state['mean'], state['scale']
        probe.coef, probe.intercept = state['coef'], state['intercept']
        return probe
