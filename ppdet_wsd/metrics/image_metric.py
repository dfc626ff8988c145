"""``ImageLabelMetric``: image-level metrics inside ppdet's Trainer evaluation loop."""
import numpy as np
from ppdet.metrics import Metric
from ppdet.utils.logger import setup_logger

from .image_level import format_report, image_level_report

logger = setup_logger(__name__)


class ImageLabelMetric(Metric):
    """Collects ``inputs['img_label']`` ``[B, C]`` and ``outputs['scores']`` ``[B, C]``.

    ``get_results()`` returns the dict of :func:`image_level_report`; best-model
    selection compares its :func:`~ppdet_wsd.metrics.image_level.selection_score`
    (``image_ap``, or ``mean_class_ap`` without good val images).
    """
    primary_key = 'image_ap'

    def __init__(self, classes, threshold=0.5):
        self.classes = list(classes)
        self.threshold = threshold
        self.reset()

    def reset(self):
        self.labels, self.scores, self.results = [], [], {}

    def update(self, inputs, outputs):
        self.labels.append(np.asarray(inputs['img_label']))
        self.scores.append(np.asarray(outputs['scores']))

    def accumulate(self):
        self.results = image_level_report(np.concatenate(self.labels),
                                          np.concatenate(self.scores),
                                          self.classes, self.threshold)

    def log(self):
        logger.info('image-level evaluation\n' + format_report(self.results))

    def get_results(self):
        return self.results
