"""The runtime's numpy NMS and RetinaHead decoding give what ppdet computes in the graph."""
import numpy as np
import paddle
import pytest
from ppdet.modeling import ops
from ppdet.modeling.bbox_utils import delta2bbox as ppdet_delta2bbox
from ppdet.modeling.proposal_generator.anchor_generator import RetinaAnchorGenerator

from ppdet_wsd_runtime.detections import split_detections
from ppdet_wsd_runtime.nms import multiclass_nms
from ppdet_wsd_runtime.retina_decode import delta2bbox, grid_anchors


def random_boxes(rng, n, size=100.0):
    """``n`` boxes in a ``size`` square, many overlapping, a few inverted or empty."""
    centre = rng.uniform(0, size, (n, 2))
    half = rng.uniform(0, size / 6, (n, 2))
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    boxes[:3, 2:] = boxes[:3, :2] - 1.0       # inverted
    boxes[3, 2:] = boxes[3, :2]               # zero area
    return boxes.astype(np.float32)


def paddle_nms(boxes, scores, **settings):
    bbox, bbox_num, _ = ops.multiclass_nms(paddle.to_tensor(boxes[None]),
                                           paddle.to_tensor(scores[None]), **settings)
    return split_detections(bbox.numpy(), bbox_num.numpy())[0]


@pytest.mark.parametrize('settings', [
    dict(score_threshold=0.05, nms_top_k=1000, keep_top_k=100, nms_threshold=0.5),
    dict(score_threshold=0.3, nms_top_k=-1, keep_top_k=-1, nms_threshold=0.3),
    dict(score_threshold=0.0, nms_top_k=40, keep_top_k=25, nms_threshold=0.6),  # both cut
    dict(score_threshold=0.1, nms_top_k=100, keep_top_k=50, nms_threshold=0.5,
         normalized=False),
])
def test_numpy_nms_equals_paddles_multiclass_nms(settings):
    rng = np.random.RandomState(0)
    for _ in range(3):
        boxes = random_boxes(rng, 300)
        scores = rng.uniform(0, 1, (4, 300)).astype(np.float32)
        scores[1, :10] = scores[1, 10]  # ties keep the box order
        expected = paddle_nms(boxes, scores, **settings)
        mine = multiclass_nms(boxes, scores, **settings)
        assert len(expected) > 10
        np.testing.assert_array_equal(mine, expected)


def test_no_box_above_the_threshold_gives_no_row():
    boxes = random_boxes(np.random.RandomState(1), 20)
    assert multiclass_nms(boxes, np.zeros((2, 20), np.float32)).shape == (0, 6)
    with pytest.raises(ValueError, match='nms_eta'):
        multiclass_nms(boxes, np.zeros((2, 20), np.float32), nms_eta=0.9)


def test_anchors_and_box_decoding_equal_ppdets():
    generator = RetinaAnchorGenerator(octave_base_scale=2, scales_per_octave=3,
                                      aspect_ratios=[0.5, 1.0, 2.0], strides=[8.0, 16.0])
    maps = [paddle.zeros([1, 1, 6, 5]), paddle.zeros([1, 1, 3, 3])]
    for level, (anchors, fmap) in enumerate(zip(generator(maps), maps)):
        cells = generator.cell_anchors[level].numpy()
        mine = grid_anchors(cells, generator.strides[level], 0.0, *fmap.shape[2:])
        np.testing.assert_array_equal(mine, anchors.numpy())
    rng = np.random.RandomState(2)
    anchors = random_boxes(rng, 50)[5:]
    deltas = rng.normal(0, 2, (45, 4)).astype(np.float32)
    deltas[0, 2] = 9.0  # beyond the exp() clip
    expected = ppdet_delta2bbox(paddle.to_tensor(deltas), paddle.to_tensor(anchors),
                                [1.0, 1.0, 2.0, 2.0]).numpy().reshape(-1, 4)
    np.testing.assert_allclose(delta2bbox(deltas, anchors, [1.0, 1.0, 2.0, 2.0]), expected,
                               rtol=1e-6, atol=1e-4)
