"""Online refinement: the mining rule and the EMA teacher."""
import numpy as np
import paddle
import pytest

from ppdet_wsd.engine.training.refinement import EMATeacher, changed_images, refinement_options
from ppdet_wsd.pseudo.refine import MiningRule
from tiny_models import tiny_detector


def det(rows):
    return np.asarray(rows, np.float32).reshape(-1, 6)


def nothing():
    return (np.zeros((0, 4), np.float32), np.zeros((0, 1), np.int32),
            np.zeros((0, 1), np.float32))


def test_mining_keeps_only_labelled_classes_and_several_instances():
    detections = det([[0, 0.9, 0, 0, 10, 10], [0, 0.8, 50, 50, 60, 60],   # two far apart
                      [0, 0.7, 1, 1, 11, 11],                             # overlaps the best
                      [1, 0.95, 20, 20, 30, 30]])                         # class not in label
    boxes, classes, scores = MiningRule(top_p=1.0, nms_iou=0.3, min_score=0.3)(
        detections, np.array([1, 0]), nothing())
    assert classes.ravel().tolist() == [0, 0]
    assert boxes.tolist() == [[0, 0, 10, 10], [50, 50, 60, 60]]
    assert scores.ravel() == pytest.approx([0.9, 0.8])


def test_mining_top_p_and_the_per_class_cap():
    detections = det([[0, 0.9 - i / 100, 20 * i, 0, 20 * i + 10, 10] for i in range(10)])
    rule = MiningRule(top_p=0.3, nms_iou=0.3, min_score=0.0)
    assert len(rule(detections, np.array([1]), nothing())[0]) == 3
    rule = MiningRule(top_p=1.0, nms_iou=0.3, min_score=0.0, max_per_class=4)
    assert len(rule(detections, np.array([1]), nothing())[0]) == 4


def test_a_class_without_a_confident_detection_keeps_its_old_boxes():
    previous = (np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32),
                np.array([[0], [1]], np.int32), np.array([[0.4], [0.6]], np.float32))
    detections = det([[0, 0.9, 0, 0, 10, 10], [1, 0.1, 0, 0, 5, 5]])
    boxes, classes, scores = MiningRule(min_score=0.3)(detections, np.array([1, 1]), previous)
    assert classes.ravel().tolist() == [0, 1]
    assert boxes.tolist() == [[0, 0, 10, 10], [5, 6, 7, 8]]
    assert scores.ravel() == pytest.approx([0.9, 0.6])


def test_a_good_image_gets_no_box():
    boxes, classes, scores = MiningRule()(det([[0, 0.99, 0, 0, 9, 9]]), np.array([0, 0]),
                                          nothing())
    assert boxes.shape == (0, 4) and classes.shape == (0, 1) and scores.shape == (0, 1)


def test_changed_images_counts_differences():
    a = (np.array([[0, 0, 1, 1]], np.float32), np.array([[0]]), np.array([[1.0]]))
    b = (np.array([[0, 0, 2, 2]], np.float32), np.array([[0]]), np.array([[1.0]]))
    assert changed_images([a, a, nothing()], [a, b, nothing()]) == 1


def test_the_ema_teacher_follows_the_student_and_shares_the_frozen_parts():
    student = tiny_detector()
    teacher = EMATeacher(student, decay=0.9)
    assert teacher.model.cache is student.cache
    assert {id(t) for t, _ in teacher.pairs}.isdisjoint({id(p) for p in student.parameters()})
    assert all(not s.stop_gradient for _, s in teacher.pairs)
    assert len(teacher.pairs) < len(student.parameters()), 'the frozen backbone is not averaged'
    t0, s0 = teacher.pairs[0]
    teacher.updates = 1000  # past the warm-up: the decay is the configured one
    before = t0.numpy().copy()
    with paddle.no_grad():
        s0.set_value(s0 + 1.0)
    teacher.update()
    assert t0.numpy() == pytest.approx(0.9 * before + 0.1 * s0.numpy(), rel=1e-5, abs=1e-6)


def test_the_ema_warm_up_forgets_the_start_quickly():
    student = tiny_detector()
    teacher = EMATeacher(student, decay=0.999)
    t0, s0 = teacher.pairs[0]
    before = t0.numpy().copy()
    with paddle.no_grad():
        s0.set_value(s0 + 1.0)
    teacher.update()  # first update: d = 1/10
    assert t0.numpy() == pytest.approx(0.1 * before + 0.9 * s0.numpy(), rel=1e-5, abs=1e-6)


def test_refinement_options_fill_defaults_and_refuse_typos():
    class Cfg(dict):
        pass
    assert refinement_options(Cfg(Refinement={'enable': True}))['interval'] >= 1
    with pytest.raises(ValueError, match='intervall'):
        refinement_options(Cfg(Refinement={'intervall': 3}))


def test_running_a_model_over_records_leaves_their_boxes_alone(tiny_dataset):
    """ppdet's Resize scales gt_bbox in place: the refinement teacher's pass over the
    training records must not rescale the boxes the student trains on."""
    from ppdet.data.reader import Compose

    from ppdet_wsd.data.box_dataset import BoxLabelDataSet
    from ppdet_wsd.engine.prediction.batches import image_batches
    dataset = BoxLabelDataSet(dataset_dir=tiny_dataset,
                              boxes_file=f'{tiny_dataset}/annotations.json')
    dataset.parse_dataset()
    before = [r['gt_bbox'].copy() for r in dataset.roidbs]
    transforms = Compose([{'DecodeImage': {}},
                          {'Resize': {'target_size': [32, 32], 'keep_ratio': False}}])
    for _ in image_batches(transforms, dataset.roidbs, 4):
        pass
    assert all(np.array_equal(b, r['gt_bbox']) for b, r in zip(before, dataset.roidbs))
    assert any(len(b) for b in before)
