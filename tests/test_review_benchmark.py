"""The simulated reviewer of the review benchmark: the decisions it derives from true boxes."""
import numpy as np

from ppdet_wsd.benchmarks.review import SECONDS, first_per_class, simulate_reviewer
from ppdet_wsd.data.ground_truth import GroundTruthImage


def _truth(boxes, labels):
    return GroundTruthImage(file='x.png', boxes=np.array(boxes, np.float32).reshape(-1, 4),
                            labels=tuple(labels), height=50, width=50, loc_gt=True,
                            mask_path=None)


def test_the_simulated_reviewer_accepts_redraws_relabels_rejects_and_adds():
    image = {'file': 'x.png', 'width': 50, 'height': 50, 'boxes': [
        {'class': 'a', 'box': [0, 0, 10, 10], 'score': 0.9},      # IoU 1 with truth 0
        {'class': 'a', 'box': [20, 20, 40, 40], 'score': 0.8},    # IoU 0.25 with truth 1, class b
        {'class': 'b', 'box': [45, 0, 50, 5], 'score': 0.7}]}     # nothing there
    truth = _truth([[0, 0, 10, 10], [20, 20, 30, 30], [0, 40, 8, 48]], ['a', 'b', 'a'])
    assert simulate_reviewer(image, truth) == [
        {'file': 'x.png', 'action': 'accept', 'box': 'p0'},
        {'file': 'x.png', 'action': 'redraw', 'box': 'p1', 'xyxy': [20.0, 20.0, 30.0, 30.0]},
        {'file': 'x.png', 'action': 'relabel', 'box': 'p1', 'class': 'b'},
        {'file': 'x.png', 'action': 'reject', 'box': 'p2'},
        {'file': 'x.png', 'action': 'add', 'xyxy': [0.0, 40.0, 8.0, 48.0], 'class': 'a'}]
    assert simulate_reviewer(image, _truth([], [])) == \
        [{'file': 'x.png', 'action': 'no_defect', 'value': True}]
    agnostic = simulate_reviewer(dict(image, labels=['a']), truth, agnostic=True)
    assert [d['action'] for d in agnostic] == ['accept', 'redraw', 'reject', 'add']
    assert agnostic[-1]['class'] == 'a'


def test_first_per_class_and_the_keystroke_estimates():
    queue = [{'labels': [c]} for c in 'aabab']
    assert first_per_class(queue, 1) == [queue[0], queue[2]]
    assert first_per_class(queue, 0) == []
    assert round(SECONDS['accept'], 2) == 1.63 and round(SECONDS['redraw'], 2) == 4.83
