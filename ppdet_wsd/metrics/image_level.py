"""Image-level metrics: how well image scores separate good from defective images.

Scores are per class probabilities ``[N, C]`` in [0, 1]; the image's defect score is
the maximum over classes. Labels are multi-hot ``[N, C]`` (all zero = good).
"""
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ..data.labels import GOOD_LABEL


def _safe(metric, y_true, y_score):
    """``metric`` or ``None`` when ``y_true`` holds a single class (undefined)."""
    if len(np.unique(y_true)) < 2:
        return None
    return float(metric(y_true, y_score))


def predicted_sets(scores, threshold):
    """Classes whose score reaches ``threshold``, per image: bool ``[N, C]``."""
    return np.asarray(scores) >= threshold


def group_names(labels, classes):
    """Name of each image's label group: ``good`` or class names joined by ``;``."""
    return [';'.join(c for c, on in zip(classes, row) if on) or GOOD_LABEL
            for row in np.asarray(labels) > 0.5]


def image_level_report(labels, scores, classes, threshold=0.5):
    """Measure image-level classification.

    Args:
        labels (array-like): float/int ``[N, C]`` multi-hot ground truth.
        scores (array-like): float ``[N, C]`` class probabilities in [0, 1].
        classes (list[str]): the ``C`` class names.
        threshold (float): a class is predicted when its score >= threshold; an
            image with no predicted class is judged good.
    Returns:
        dict: ``image_auroc`` / ``image_ap`` (defective vs good, from the max
        score; ``None`` if only one kind is present), ``good_bad_accuracy``,
        ``miss_rate`` (defective judged good), ``overkill_rate`` (good judged
        defective), ``per_class`` ({class: {'auroc', 'ap'}} one-vs-rest) and
        ``per_group_accuracy`` ({group: share of its images whose predicted class
        set equals the true set}), ``mean_class_auroc`` / ``mean_class_ap`` (mean
        of the defined per-class values; ``None`` if none is defined: the numbers
        a split without good images still has), ``num_images``, ``threshold``.
    """
    labels = np.asarray(labels, dtype=np.float32) > 0.5
    scores = np.asarray(scores, dtype=np.float32)
    defective = labels.any(axis=1)
    defect_score = scores.max(axis=1)
    predicted = predicted_sets(scores, threshold)
    rates = verdict_rates(defective, defect_score, threshold)
    exact = (predicted == labels).all(axis=1)
    groups = group_names(labels, classes)
    per_group = {g: float(np.mean([e for e, gg in zip(exact, groups) if gg == g]))
                 for g in sorted(set(groups))}
    per_class = {c: {'auroc': _safe(roc_auc_score, labels[:, i], scores[:, i]),
                     'ap': _safe(average_precision_score, labels[:, i], scores[:, i])}
                 for i, c in enumerate(classes)}
    return {
        'num_images': int(len(labels)),
        'threshold': float(threshold),
        'image_auroc': _safe(roc_auc_score, defective, defect_score),
        'image_ap': _safe(average_precision_score, defective, defect_score),
        'good_bad_accuracy': float(np.mean(predicted.any(axis=1) == defective)),
        'miss_rate': rates['miss_rate'],
        'overkill_rate': rates['overkill_rate'],
        'per_class': per_class,
        'per_group_accuracy': per_group,
        'mean_class_auroc': _mean_defined(v['auroc'] for v in per_class.values()),
        'mean_class_ap': _mean_defined(v['ap'] for v in per_class.values()),
    }


def _mean_defined(values):
    """Mean of the values that are not ``None``; ``None`` if there is none."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


SELECTION_KEYS = ('image_ap', 'mean_class_ap')


def selection_score(report):
    """What model selection compares (higher is better): the first defined of
    :data:`SELECTION_KEYS` in an :func:`image_level_report` result (``image_ap``;
    ``mean_class_ap`` when the split has no good image).

    Returns:
        tuple: ``(key, value)``, or ``(None, None)`` when none is defined.
    """
    for key in SELECTION_KEYS:
        if report.get(key) is not None:
            return key, report[key]
    return None, None


def format_report(report):
    """A few readable lines of :func:`image_level_report`'s result."""
    def num(v):
        return 'n/a' if v is None else f'{v:.4f}'
    lines = [f"images {report['num_images']}  AUROC {num(report['image_auroc'])}  "
             f"AP {num(report['image_ap'])}  mean class AUROC "
             f"{num(report.get('mean_class_auroc'))}  good/bad acc {num(report['good_bad_accuracy'])}  "
             f"miss {num(report['miss_rate'])}  over-kill {num(report['overkill_rate'])}  "
             f"(threshold {report['threshold']})"]
    for name, acc in report['per_group_accuracy'].items():
        extra = report['per_class'].get(name)
        tail = f"  AUROC {num(extra['auroc'])}  AP {num(extra['ap'])}" if extra else ''
        lines.append(f'  {name:<16} accuracy {acc:.4f}{tail}')
    return '\n'.join(lines)


def verdict_rates(defective, defect_score, threshold):
    """Miss rate (defective images scored below ``threshold``) and over-kill rate (good
    images scored at or above it); ``None`` for a rate whose group is empty.

    Args:
        defective (array-like): bool ``[N]``.
        defect_score (array-like): float ``[N]``, the image's defect score.
        threshold (float): operating threshold.
    Returns:
        dict: ``threshold``, ``miss_rate``, ``overkill_rate``.
    """
    defective = np.asarray(defective, dtype=bool)
    judged = np.asarray(defect_score) >= threshold
    return {'threshold': float(threshold),
            'miss_rate': float(np.mean(~judged[defective])) if defective.any() else None,
            'overkill_rate': float(np.mean(judged[~defective])) if (~defective).any() else None}


def youden_threshold(defective, defect_score):
    """The operating threshold with the largest ``recall(defective) - overkill rate``
    (Youden's J) on labelled images, e.g. a val split's image labels (no box needed).

    Every threshold between the lowest score that reaches the best J and the highest
    score below it judges these images alike; the threshold is the middle of that gap,
    so a new image's score (or another CPU's rounding of one) needs the most change, on
    either side, to be judged otherwise.

    Returns:
        float | None: the threshold, ``None`` when only one kind of image is present.
    """
    defective = np.asarray(defective, dtype=bool)
    if defective.all() or not defective.any():
        return None
    score = np.asarray(defect_score, dtype=np.float64)
    fpr, tpr, thresholds = roc_curve(defective, score)
    lowest_judged = float(thresholds[int(np.argmax(tpr - fpr))])
    if lowest_judged > score.max():  # no J above 0: nothing is judged defective
        return 1.0
    # J > 0 leaves a good image unjudged, so some score lies below
    return (lowest_judged + float(score[score < lowest_judged].max())) / 2.0


def operating_threshold(labels, defect_score, class_scores):
    """The verdict threshold from a labelled split (no box needed): Youden's J of
    defective vs good images; without good images (or without defective ones),
    Youden's J over the one-vs-rest (image, class) pairs, a pair positive when the
    class is labelled (a class is predicted when its score reaches the threshold).

    Args:
        labels (array-like): ``[N, C]`` multi-hot image labels.
        defect_score (array-like): float ``[N]``, the image's defect score.
        class_scores (array-like): float ``[N, C]`` per-class scores.
    Returns:
        tuple: ``(threshold, basis)``; basis ``'images'`` or ``'class pairs'``;
        ``(None, None)`` when every pair is of one kind.
    """
    labels = np.asarray(labels, dtype=np.float32) > 0.5
    threshold = youden_threshold(labels.any(axis=1), defect_score)
    if threshold is not None:
        return threshold, 'images'
    threshold = youden_threshold(labels.ravel(), np.asarray(class_scores).ravel())
    return (threshold, 'class pairs') if threshold is not None else (None, None)
