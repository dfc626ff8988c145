"""Where the pipeline's image verdict (good / defective, miss / over-kill) comes from:
the stage-1 classifier, the detector, or the mean of both, whichever separates the
**val** split's image labels best. No box is read; the test split is measured once, with
the source and threshold val chose.
"""
import numpy as np

from ..metrics.image_level import image_level_report, operating_threshold

VERDICT_SOURCES = ('detector', 'classifier', 'fusion')  # ties go to the earlier source


def source_scores(detector, classifier):
    """Per-class image scores of every verdict source.

    Args:
        detector, classifier (array-like): float ``[N, C]`` in [0, 1], same images and
            class order.
    Returns:
        dict[str, np.ndarray]: ``{source: float32 [N, C]}``; ``fusion`` is the mean.
    """
    detector = np.asarray(detector, np.float32)
    classifier = np.asarray(classifier, np.float32)
    return {'detector': detector, 'classifier': classifier,
            'fusion': 0.5 * (detector + classifier)}


def separation(labels, class_scores, classes):
    """How well scores separate a labelled split: the image AUROC (defect score = max over
    classes, defective vs good); without both kinds of image, the mean per-class AUROC.
    ``None`` when neither is defined."""
    report = image_level_report(labels, class_scores, classes)
    return report['image_auroc'] if report['image_auroc'] is not None \
        else report['mean_class_auroc']


def choose_verdict(val_labels, val_sources, test_labels, test_sources, classes,
                   fixed_threshold=None):
    """Choose the verdict source and its operating threshold on val, then measure test.

    Args:
        val_labels, test_labels (array-like): ``[N, C]`` multi-hot image labels.
        val_sources, test_sources (dict): :func:`source_scores` of each split.
        classes (list[str]): class names.
        fixed_threshold (float | None): a threshold the user fixed instead of val's.
    Returns:
        dict: ``source`` (str), ``val_separation`` ({source: AUROC or None}),
        ``threshold`` (float), ``threshold_source`` ('val' / 'fixed'), ``threshold_basis``
        ('images' / 'class pairs' / None), ``test`` (:func:`image_level_report` of the
        chosen scores at the threshold: AUROC, miss / over-kill rates, ...; per image
        ``defective`` and ``defect_scores``).
    """
    val_separation = {s: separation(val_labels, val_sources[s], classes)
                      for s in VERDICT_SOURCES}
    defined = [s for s in VERDICT_SOURCES if val_separation[s] is not None]
    source = max(defined, key=lambda s: val_separation[s]) if defined else VERDICT_SOURCES[0]
    val_scores = val_sources[source]
    threshold, basis = operating_threshold(val_labels, val_scores.max(axis=1), val_scores)
    threshold_source = 'val'
    if fixed_threshold is not None or threshold is None:
        threshold, basis = float(fixed_threshold if fixed_threshold is not None else 0.5), None
        threshold_source = 'fixed'
    test = image_level_report(test_labels, test_sources[source], classes, threshold)
    test.update(defective=(np.asarray(test_labels) > 0.5).any(axis=1).tolist(),
                defect_scores=test_sources[source].max(axis=1).astype(float).tolist())
    return {'source': source, 'val_separation': val_separation, 'threshold': float(threshold),
            'threshold_source': threshold_source, 'threshold_basis': basis, 'test': test}
