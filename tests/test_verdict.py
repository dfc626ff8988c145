"""The pipeline's image verdict: its source (detector, classifier or their mean) and
threshold are chosen on val image labels, then test is measured once."""
import numpy as np
import pytest

from ppdet_wsd.pipeline.verdict import choose_verdict, separation, source_scores

CLASSES = ['crack', 'spot']
VAL_LABELS = np.array([[1, 0], [0, 1], [0, 0], [0, 0]])
TEST_LABELS = np.array([[1, 0], [0, 0], [0, 1]])


def test_the_source_that_separates_val_best_gives_the_verdict():
    val = source_scores(detector=[[0.3, 0.1], [0.1, 0.2], [0.6, 0.1], [0.1, 0.1]],
                        classifier=[[0.9, 0.1], [0.2, 0.8], [0.3, 0.1], [0.1, 0.2]])
    test = source_scores(detector=[[0.9, 0.1], [0.1, 0.1], [0.1, 0.2]],
                         classifier=[[0.85, 0.1], [0.2, 0.1], [0.1, 0.6]])
    verdict = choose_verdict(VAL_LABELS, val, TEST_LABELS, test, CLASSES)
    assert verdict['val_separation']['detector'] == pytest.approx(0.5)
    assert verdict['val_separation']['classifier'] == 1.0
    assert verdict['source'] == 'classifier'
    # Youden's J on val: every threshold in (0.3, 0.8] separates val; its middle is taken,
    # which the test spot at 0.6 passes (the lowest defective val score, 0.8, missed it)
    assert verdict['threshold'] == pytest.approx(0.55)
    assert verdict['threshold_source'] == 'val' and verdict['threshold_basis'] == 'images'
    assert verdict['test']['miss_rate'] == 0.0 and verdict['test']['overkill_rate'] == 0.0
    assert verdict['test']['image_auroc'] == 1.0
    assert verdict['test']['defect_scores'] == pytest.approx([0.85, 0.2, 0.6])
    assert verdict['test']['class_scores'][2] == pytest.approx([0.1, 0.6])


def test_ties_go_to_the_detector_and_a_fixed_threshold_is_kept():
    same = [[0.9, 0.1], [0.1, 0.9], [0.2, 0.1], [0.1, 0.3]]
    sources = source_scores(same, same)
    verdict = choose_verdict(VAL_LABELS, sources, VAL_LABELS, sources, CLASSES,
                             fixed_threshold=0.25)
    assert verdict['source'] == 'detector' and verdict['threshold'] == 0.25
    assert verdict['threshold_source'] == 'fixed' and verdict['threshold_basis'] is None
    assert verdict['test']['overkill_rate'] == 0.5


def test_fusion_is_the_mean_and_no_good_images_fall_back_to_class_auroc():
    fused = source_scores([[0.2, 0.4]], [[0.6, 0.0]])['fusion']
    assert fused[0].tolist() == pytest.approx([0.4, 0.2])
    labels = np.array([[1, 0], [0, 1]])
    assert separation(labels, [[0.9, 0.2], [0.3, 0.8]], CLASSES) == 1.0
    assert separation(labels, [[0.2, 0.9], [0.8, 0.3]], CLASSES) == 0.0
