import numpy as np
import pytest
from ppdet.core.workspace import create, global_config

from ppdet_wsd.pseudo.align import align_to_original
from ppdet_wsd.pseudo.generator import CAMPseudoBoxGenerator
from ppdet_wsd.utils.contours import boxes_from_heatmap


def test_boxes_from_heatmap_all_contours_and_largest():
    heat = np.zeros((10, 10), np.float32)
    heat[5, 3] = 1.0             # one pixel
    heat[1:3, 6:9] = 0.8         # a 2x3 block
    np.testing.assert_array_equal(boxes_from_heatmap(heat, 0.5),
                                  [[6, 1, 9, 3], [3, 5, 4, 6]])
    np.testing.assert_array_equal(boxes_from_heatmap(heat, 0.5, all_contours=False),
                                  [[6, 1, 9, 3]])
    np.testing.assert_array_equal(boxes_from_heatmap(heat, 0.9), [[3, 5, 4, 6]])
    assert boxes_from_heatmap(np.zeros((4, 4)), 0.5).shape == (0, 4)


def test_align_undoes_resize_and_bottom_right_padding():
    original = np.zeros((1, 40, 80), np.float32)
    original[0, 10:20, 40:60] = 1.0
    # resized to 20 x 40 (scale 0.5) and padded to 32 x 64
    resized = np.zeros((1, 32, 64), np.float32)
    resized[0, 5:10, 20:30] = 1.0
    back = align_to_original(resized, im_shape=(20, 40), orig_hw=(40, 80))
    assert back.shape == (1, 40, 80)
    np.testing.assert_array_equal(boxes_from_heatmap(back[0], 0.5), [[40, 10, 60, 20]])


def _two_blob_map():
    cam = np.zeros((2, 50, 50), np.float32)
    cam[0, 5:15, 5:15] = 4.0      # strong blob, 100 px
    cam[0, 30:36, 30:40] = 2.0    # weaker blob, 60 px
    cam[1, 20:22, 0:50] = 1.0     # a 2 x 50 streak: aspect 25
    return cam


def test_several_instances_scores_and_class_probability():
    gen = CAMPseudoBoxGenerator(threshold=0.4, box_score='mean')
    out = gen(_two_blob_map()[:1], [0.8], ['spot'])
    assert [b['box'] for b in out] == [[5, 5, 15, 15], [30, 30, 40, 36]]
    assert out[0]['score'] == pytest.approx(0.8)          # mean of normalised map 1.0
    assert out[1]['score'] == pytest.approx(0.5 * 0.8)    # mean 0.5 inside the weaker blob


def test_threshold_modes_and_priors():
    cam = _two_blob_map()
    strict = CAMPseudoBoxGenerator(threshold=0.6)
    assert len(strict(cam[:1], [1.0], ['spot'])) == 1      # weaker blob (0.5) falls out
    largest = CAMPseudoBoxGenerator(threshold=0.4, all_contours=False)
    assert len(largest(cam[:1], [1.0], ['spot'])) == 1
    per_class = CAMPseudoBoxGenerator(threshold_mode='per_class', class_thresholds={'spot': 0.6})
    assert len(per_class(cam[:1], [1.0], ['spot'])) == 1
    otsu = CAMPseudoBoxGenerator(threshold_mode='otsu')
    assert len(otsu(cam[:1], [1.0], ['spot'])) == 2
    # the streak breaks the aspect prior; a class-specific area prior drops the big blob
    assert CAMPseudoBoxGenerator(threshold=0.5)(cam[1:], [1.0], ['scratch']) == []
    sized = CAMPseudoBoxGenerator(threshold=0.4, class_area_frac={'spot': [0.0, 0.03]})
    assert [b['box'] for b in sized(cam[:1], [1.0], ['spot'])] == [[30, 30, 40, 36]]


def test_overlapping_boxes_are_suppressed():
    gen = CAMPseudoBoxGenerator(threshold=0.1, all_contours=True, nms_iou=0.3)
    cam = np.zeros((1, 30, 30), np.float32)
    cam[0, 2:20, 2:20] = 1.0
    cam[0, 8:14, 8:14] = 0.0      # a hole: still one outer contour
    assert len(gen(cam, [1.0], ['spot'])) == 1


def test_empty_map_gives_no_box_and_bad_options_are_refused():
    assert CAMPseudoBoxGenerator()(np.zeros((1, 8, 8), np.float32), [0.9], ['spot']) == []
    with pytest.raises(ValueError, match='threshold_mode'):
        CAMPseudoBoxGenerator(threshold_mode='magic')


def test_configured_from_yaml_section():
    schema = global_config['CAMPseudoBoxGenerator']
    before = dict(schema)
    schema.update({'threshold': 0.33, 'box_score': 'peak'})
    try:
        gen = create('CAMPseudoBoxGenerator')
        assert gen.threshold == 0.33 and gen.box_score == 'peak'
    finally:
        schema.clear()
        schema.update(before)
