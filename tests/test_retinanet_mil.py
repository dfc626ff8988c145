"""RetinaNetMIL, ScoredRetinaHead and MILHead on tiny models and hand-made logits."""
import numpy as np
import paddle
import pytest

from ppdet_wsd.modeling.mil_head import MILHead, wsddn_scores
from tiny_models import tiny_detector


def batch(boxes_per_image, labels, scores=None, size=32):
    """A training batch of random images with the given boxes (xyxy lists) and labels."""
    rng = np.random.default_rng(0)
    inputs = {'image': paddle.to_tensor(rng.normal(size=(len(labels), 3, size, size)),
                                        dtype='float32'),
              'img_label': paddle.to_tensor(np.asarray(labels, np.float32)),
              'gt_bbox': [], 'gt_class': [], 'gt_score': []}
    for i, boxes in enumerate(boxes_per_image):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        classes = np.full((len(boxes), 1), int(np.argmax(labels[i])), np.int32)
        score = np.full((len(boxes), 1), 1.0 if scores is None else scores[i], np.float32)
        inputs['gt_bbox'].append(paddle.to_tensor(boxes))
        inputs['gt_class'].append(paddle.to_tensor(classes))
        inputs['gt_score'].append(paddle.to_tensor(score))
    return inputs


def losses_of(model, inputs):
    model.train()
    out = model(inputs)
    out['loss'].backward()
    return {k: float(v) for k, v in out.items()}, out


@pytest.mark.parametrize('pooling', ['max', 'lse', 'wsddn'])
def test_an_all_good_batch_trains_with_finite_0d_losses(pooling):
    model = tiny_detector(mil_pooling=pooling)
    values, out = losses_of(model, batch([[], []], [[0, 0, 0], [0, 0, 0]]))
    assert all(v.shape == [] for v in out.values()), {k: v.shape for k, v in out.items()}
    assert all(np.isfinite(v) for v in values.values())
    assert values['loss_reg'] == 0.0 and values['loss_cls'] > 0 and values['loss_mil'] > 0
    trained = [p for p in model.parameters() if not p.stop_gradient]
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in trained)


def test_a_mixed_batch_trains_and_every_loss_is_positive():
    values, out = losses_of(tiny_detector(), batch([[[4, 4, 14, 12]], []], [[0, 1, 0], [0, 0, 0]]))
    assert values['loss_reg'] > 0 and values['loss_cls'] > 0
    assert values['loss'] == pytest.approx(values['loss_cls'] + values['loss_reg']
                                           + values['loss_mil'], rel=1e-5)


def test_box_loss_is_weighted_by_the_pseudo_box_score():
    boxes = [[[4, 4, 14, 12], [18, 16, 30, 28]]]
    full, _ = losses_of(tiny_detector(), batch(boxes, [[1, 0, 0]], scores=[1.0]))
    half, _ = losses_of(tiny_detector(), batch(boxes, [[1, 0, 0]], scores=[0.5]))
    assert half['loss_reg'] == pytest.approx(0.5 * full['loss_reg'], rel=1e-5)
    assert half['loss_cls'] == pytest.approx(full['loss_cls'], rel=1e-6)


def test_without_a_mil_head_there_is_no_mil_loss():
    values, _ = losses_of(tiny_detector(with_mil=False), batch([[[4, 4, 14, 12]]], [[1, 0, 0]]))
    assert 'loss_mil' not in values
    assert values['loss'] == pytest.approx(values['loss_cls'] + values['loss_reg'], rel=1e-6)


@pytest.mark.parametrize('with_mil', [True, False])
def test_prediction_gives_boxes_per_image_and_image_scores(with_mil):
    model = tiny_detector(with_mil=with_mil)
    model.eval()
    inputs = batch([[], []], [[0, 0, 0], [0, 0, 0]])
    inputs['im_shape'] = paddle.to_tensor([[32.0, 32.0]] * 2)
    inputs['scale_factor'] = paddle.to_tensor([[0.5, 0.25]] * 2)  # originals 64 x 128 (h x w)
    with paddle.no_grad():
        out = model(inputs)
    bbox, bbox_num, im_score = (out[k].numpy() for k in ('bbox', 'bbox_num', 'im_score'))
    assert bbox.shape[1] == 6 and bbox_num.shape == (2,) and bbox_num.sum() == len(bbox)
    assert im_score.shape == (2, 3) and ((im_score >= 0) & (im_score <= 1)).all()
    assert bbox[:, 4].max() > 32, 'boxes are mapped back to the original (wider) image'


def test_mil_pooling_values_on_hand_made_logits():
    logits = [paddle.to_tensor(np.array([[[[2.0]], [[-1.0]]]], np.float32)),  # 1 anchor, C=2
              paddle.to_tensor(np.array([[[[0.0]], [[-3.0]]]], np.float32))]
    assert MILHead(2, 'max')(logits).numpy()[0] == pytest.approx([2.0, -1.0])
    lse = np.log(np.mean(np.exp(5 * np.array([[2.0, 0.0], [-1.0, -3.0]])), axis=1)) / 5
    assert MILHead(2, 'lse', lse_r=5.0)(logits).numpy()[0] == pytest.approx(lse, rel=1e-5)
    two_stream = MILHead(2, 'wsddn')(logits).numpy()[0]
    flat = np.array([[2.0, -1.0], [0.0, -3.0]])
    cls = np.exp(flat) / (1 + np.exp(flat).sum(axis=1, keepdims=True))
    loc = np.exp(flat) / np.exp(flat).sum(axis=0, keepdims=True)
    assert two_stream == pytest.approx((cls * loc).sum(axis=0), rel=1e-5)


def test_wsddn_scores_can_say_good_and_stay_below_one():
    very_negative = paddle.full([1, 50, 3], -30.0)
    very_positive = paddle.full([1, 50, 3], 30.0)
    assert float(wsddn_scores(very_negative).max()) < 1e-6
    assert float(wsddn_scores(very_positive).max()) < 1.0


@pytest.mark.parametrize('pooling', ['max', 'lse', 'wsddn'])
def test_mil_loss_stays_finite_on_extreme_logits(pooling):
    head = MILHead(2, pooling)
    for value, label in ((60.0, 0.0), (-60.0, 1.0)):
        scores = head([paddle.full([2, 2, 3, 3], value)])
        loss = head.loss(scores, paddle.full([2, 2], label))
        assert loss.shape == [] and np.isfinite(float(loss)) and float(loss) > 0.5


def test_unknown_mil_pooling_is_refused():
    with pytest.raises(ValueError, match='MILHead.pooling'):
        MILHead(2, 'mean')


def test_doubt_weight_scales_only_the_labelled_classes_background_terms():
    boxes = [[[4, 4, 14, 12]], []]
    labels = [[1, 0, 0], [0, 0, 0]]  # a defective image and a good one
    loss = {w: losses_of(tiny_detector(doubt_weight=w), batch(boxes, labels))[0]['loss_cls']
            for w in (0.0, 0.5, 1.0)}
    assert loss[0.0] < loss[1.0]
    assert loss[0.5] == pytest.approx(0.5 * (loss[0.0] + loss[1.0]), rel=1e-5)  # linear
    good = [losses_of(tiny_detector(doubt_weight=w), batch([[], []], [[0, 0, 0]] * 2))[0]
            for w in (0.0, 1.0)]
    assert good[0]['loss_cls'] == pytest.approx(good[1]['loss_cls'], rel=1e-6)  # clean negatives
    both = {w: losses_of(tiny_detector(doubt_weight=w), batch(boxes, [[1, 1, 0], [0, 0, 0]]))[0]
            for w in (0.0, 1.0)}
    assert both[1.0]['loss_cls'] < loss[1.0]  # the unboxed second label: its terms ignored
    assert both[0.0]['loss_cls'] < loss[0.0]  # a second labelled class: more terms in doubt
    with pytest.raises(ValueError, match='doubt_weight must be in'):
        tiny_detector(doubt_weight=1.5)


def class_logit_gradients(model, inputs):
    """The class loss's gradient ``[B, N, C]`` w.r.t. every anchor's class logits."""
    from ppdet_wsd.modeling.scored_retina_head import flatten_levels
    model.train()
    model.inputs = inputs
    cls_logits, bbox_reg = model._head_outputs()
    cls_logits = [x.detach() for x in cls_logits]
    for x in cls_logits:
        x.stop_gradient = False
    model.head.get_loss([cls_logits, bbox_reg], inputs)['loss_cls'].backward()
    return flatten_levels([x.grad for x in cls_logits], model.head.num_classes).numpy()


@pytest.mark.parametrize('doubt_weight', [0.0, 1.0])
def test_a_labelled_class_without_a_box_is_ignored_on_its_image(doubt_weight):
    # image 0: labelled 0 and 1, a box of class 0 only; image 1: labelled 1, no box
    inputs = batch([[[4, 4, 14, 12]], []], [[1, 1, 0], [0, 1, 0]])
    grad = class_logit_gradients(tiny_detector(doubt_weight=doubt_weight), inputs)
    positive = grad[0, :, 0] < 0  # anchors of the class-0 box (pushed up)
    counted = grad[0, :, 2] != 0  # anchors the assigner did not leave out (IoU 0.4-0.5)
    background = counted & ~positive
    assert 0 < positive.sum() and background.sum() > 100
    assert (grad[1, :, 1] == 0).all()  # class 1 on the unboxed image: no term at all
    assert (grad[0, :, 1][~positive] == 0).all()  # nor as background beside the class-0 box
    assert (grad[0, :, 1][positive] > 0).all()  # the class-0 box's anchors are not class 1
    assert (grad[0, :, 2][counted] > 0).all() and (grad[1, :, 0] > 0).all()  # unlabelled
    boxed_background = grad[0, :, 0][background]  # the boxed class: at the doubt weight
    assert (boxed_background > 0).all() if doubt_weight else (boxed_background == 0).all()
    everything_boxed = batch([[[4, 4, 14, 12]], []], [[1, 0, 0], [0, 0, 0]])
    plain = class_logit_gradients(tiny_detector(), everything_boxed)
    assert (plain[1] != 0).all() and (plain[0, :, 1:][plain[0, :, 2] != 0] > 0).all()
