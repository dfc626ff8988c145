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


def test_box_voting_moves_a_kept_box_to_the_score_weighted_mean_of_its_neighbours():
    boxes = np.array([[10, 10, 50, 50],     # kept, the strongest
                      [14, 14, 54, 54],     # IoU 0.72 with it: suppressed, votes
                      [30, 30, 70, 70],     # IoU 0.22: kept on its own, box 1 votes for it
                      [12, 12, 52, 52],     # class 1 alone: unchanged
                      [34, 34, 74, 74]], np.float32)  # IoU 0.68 with box 2: votes for it
    scores = np.array([[0.9, 0.3, 0.6, 0.0, 0.2],   # class 0; box 3 below the threshold
                       [0.0, 0.0, 0.0, 0.8, 0.0]], np.float32)
    plain = multiclass_nms(boxes, scores, vote_iou=0.0)
    voted = multiclass_nms(boxes, scores, vote_iou=0.5)
    np.testing.assert_array_equal(plain[:, :2], voted[:, :2])  # the same rows and scores
    np.testing.assert_allclose(voted[0], [0, 0.9, 11, 11, 51, 51])  # (0.9*10 + 0.3*14) / 1.2
    np.testing.assert_allclose(voted[1], [0, 0.6, 31, 31, 71, 71])  # (0.6*30 + 0.2*34) / 0.8
    np.testing.assert_allclose(voted[2], [1, 0.8, 12, 12, 52, 52])
    with pytest.raises(ValueError, match='vote_iou'):
        multiclass_nms(boxes, scores, vote_iou=1.5)


def test_voting_nms_equals_the_runtime_and_without_voting_ppdets_nms():
    from ppdet.modeling.layers import MultiClassNMS

    from ppdet_wsd.modeling.voting_nms import VotingNMS
    rng = np.random.RandomState(3)
    # 40 boxes, each with 4 jittered copies: clusters that NMS thins and voting averages
    boxes = np.stack([np.repeat(random_boxes(rng, 40), 5, axis=0)
                      + rng.uniform(-2, 2, (200, 4)).astype(np.float32) for _ in range(2)])
    scores = rng.uniform(0, 1, (2, 3, 200)).astype(np.float32)
    settings = dict(score_threshold=0.2, nms_top_k=100, keep_top_k=30, nms_threshold=0.5)

    def run(nms):
        bbox, bbox_num, _ = nms(paddle.to_tensor(boxes), paddle.to_tensor(scores))
        return split_detections(bbox.numpy(), bbox_num.numpy())

    plain = run(MultiClassNMS(**settings))
    for mine, expected in zip(run(VotingNMS(vote_iou=0.0, **settings)), plain):
        np.testing.assert_array_equal(mine, expected)
    voted = run(VotingNMS(vote_iou=0.5, **settings))
    for i, (mine, expected) in enumerate(zip(voted, plain)):
        np.testing.assert_array_equal(mine, multiclass_nms(boxes[i], scores[i], vote_iou=0.5,
                                                           **settings))
        np.testing.assert_array_equal(mine[:, :2], expected[:, :2])
        assert np.abs(mine[:, 2:] - expected[:, 2:]).max() > 1.0  # voting moved boxes
