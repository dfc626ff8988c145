import numpy as np
import pytest

from ppdet_wsd.metrics import image_level_report

CLASSES = ['crack', 'spot']


def test_perfect_separation():
    labels = [[0, 0], [1, 0], [0, 1], [0, 0]]
    scores = [[0.1, 0.2], [0.9, 0.1], [0.2, 0.8], [0.3, 0.1]]
    r = image_level_report(labels, scores, CLASSES)
    assert r['image_auroc'] == 1.0 and r['image_ap'] == 1.0
    assert r['good_bad_accuracy'] == 1.0 and r['miss_rate'] == 0.0 and r['overkill_rate'] == 0.0
    assert r['per_group_accuracy'] == {'crack': 1.0, 'good': 1.0, 'spot': 1.0}


def test_hand_computed_mixed_case():
    # defect score = max per row: good 0.6, 0.2; defective 0.7, 0.4
    labels = [[0, 0], [0, 0], [1, 0], [0, 1]]
    scores = [[0.6, 0.1], [0.2, 0.1], [0.7, 0.0], [0.3, 0.4]]
    r = image_level_report(labels, scores, CLASSES, threshold=0.5)
    # pairs (defective, good): (0.7>0.6) (0.7>0.2) (0.4<0.6) (0.4>0.2) -> 3/4
    assert r['image_auroc'] == pytest.approx(0.75)
    # ranking 0.7(D) 0.6(G) 0.4(D) 0.2(G): AP = (1/1 + 2/3) / 2
    assert r['image_ap'] == pytest.approx((1 + 2 / 3) / 2)
    # judged defective at 0.5: rows 0 and 2 -> good row 0 over-killed, spot row 3 missed
    assert r['overkill_rate'] == 0.5 and r['miss_rate'] == 0.5
    assert r['good_bad_accuracy'] == 0.5
    assert r['per_group_accuracy'] == {'crack': 1.0, 'good': 0.5, 'spot': 0.0}


def test_multi_label_group_needs_the_exact_set():
    labels = [[1, 1], [1, 1]]
    scores = [[0.9, 0.8], [0.9, 0.2]]
    r = image_level_report(labels, scores, CLASSES)
    assert r['per_group_accuracy'] == {'crack;spot': 0.5}
    assert r['image_auroc'] is None and r['overkill_rate'] is None  # no good image at all


def test_per_class_metrics_one_vs_rest():
    labels = np.array([[1, 0], [0, 1], [0, 0]])
    scores = np.array([[0.8, 0.3], [0.4, 0.9], [0.5, 0.2]])
    r = image_level_report(labels, scores, CLASSES)
    assert r['per_class']['crack']['auroc'] == 1.0
    assert r['per_class']['spot']['ap'] == 1.0


def test_verdict_rates_at_a_threshold():
    from ppdet_wsd.metrics import verdict_rates
    rates = verdict_rates([True, True, False, False], [0.9, 0.2, 0.6, 0.1], 0.5)
    assert rates == {'threshold': 0.5, 'miss_rate': 0.5, 'overkill_rate': 0.5}
    assert verdict_rates([False], [0.3], 0.5)['miss_rate'] is None


def test_youden_threshold_separates_when_it_can():
    from ppdet_wsd.metrics import verdict_rates, youden_threshold
    defective, score = [True, True, False, False, False], [0.30, 0.25, 0.2, 0.1, 0.05]
    threshold = youden_threshold(defective, score)
    assert threshold == pytest.approx(0.225), 'half-way between 0.25 (judged) and 0.2 (not)'
    assert verdict_rates(defective, score, threshold) == {
        'threshold': threshold, 'miss_rate': 0.0, 'overkill_rate': 0.0}
    assert youden_threshold([True, True], [0.1, 0.2]) is None
    assert youden_threshold([True, False], [0.2, 0.3]) == 1.0, 'no J above 0: none judged'
