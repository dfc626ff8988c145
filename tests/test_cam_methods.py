"""CAM methods: call shape, hand-checkable identities, batching, TTA, and no side effects."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppdet_wsd.backbones.efficientnet_lite import EfficientNetLite
from ppdet_wsd.cam import CAM_METHODS, CAMResult, SmoothedCAM, build_cam
from ppdet_wsd.modeling.cam_classifier import CAMClassifier
from ppdet_wsd.modeling.cam_head import CAMHead
from tiny_models import tiny_classifier

GRADIENT_METHODS = ['gradcam', 'gradcam++', 'layercam']


def images(batch=2, size=32, seed=0):
    return paddle.to_tensor(np.random.RandomState(seed).randn(batch, 3, size, size)
                            .astype('float32'))


@pytest.fixture(scope='module')
def resnet():
    from paddleclas.ppcls.arch.backbone import ResNet18_vd
    paddle.seed(0)
    return ResNet18_vd(pretrained=False, class_num=3)


@pytest.mark.parametrize('name', sorted(CAM_METHODS))
def test_every_method_returns_input_size_maps(name):
    model = tiny_classifier()
    result = build_cam(name, model)(images())
    assert isinstance(result, CAMResult) and result.classes == [0, 1, 2]
    assert result.maps.dtype == np.float32 and result.maps.shape == (2, 3, 32, 32)
    assert result.maps.max() > result.maps.min()
    if name != 'cam':  # gradient methods end in a ReLU; plain CAM is the raw class map
        assert result.maps.min() >= 0
    model.eval()
    with paddle.no_grad():
        expected = model({'image': images()})['scores'].numpy()
    assert result.scores.dtype == np.float32
    np.testing.assert_allclose(result.scores, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize('name', GRADIENT_METHODS)
def test_gradient_methods_explain_a_paddleclas_classifier(resnet, name):
    result = build_cam(name, resnet, target_layer='blocks.7')(images(size=64))
    assert result.maps.shape == (2, 3, 64, 64) and result.maps.dtype == np.float32
    assert result.maps.min() >= 0
    resnet.eval()
    with paddle.no_grad():
        expected = F.sigmoid(resnet(images(size=64))).numpy()
    np.testing.assert_allclose(result.scores, expected, rtol=1e-4, atol=1e-5)


def test_plain_classifier_needs_a_target_layer_and_has_no_class_maps(resnet):
    with pytest.raises(ValueError, match='target_layer is required'):
        build_cam('gradcam', resnet)
    with pytest.raises(TypeError, match='needs a CAMClassifier'):
        build_cam('cam', resnet)


@pytest.mark.parametrize('target', ['backbone.conv1', 'backbone.conv2'])
def test_any_backbone_layer_can_be_the_target(target):
    model = tiny_classifier()
    by_name = build_cam('gradcam', model, target_layer=target)(images())
    layer = dict(model.named_sublayers())[target]
    by_layer = build_cam('gradcam', model, target_layer=layer)(images())
    assert by_name.maps.shape == (2, 3, 32, 32) and by_name.maps.max() > 0
    np.testing.assert_array_equal(by_name.maps, by_layer.maps)


def test_an_efficientnet_lite_stage_can_be_the_target():
    backbone = EfficientNetLite(pretrained=None, return_idx=[1, 2])
    model = CAMClassifier(backbone, CAMHead(num_classes=2, in_channels=24 + 40))
    result = build_cam('layercam', model, target_layer='backbone.stages.1')(images(1, 32))
    assert result.maps.shape == (1, 2, 32, 32) and result.maps.min() >= 0


def test_grad_cam_is_the_relu_cam_over_h_w_for_an_average_pooled_head():
    # logit = mean_ij(sum_n w_n A_nij) => dlogit/dA_nij = w_n / (h w) => Grad-CAM weights are
    # w_n / (h w) and the map is ReLU(sum_n w_n A_n) / (h w) = ReLU(CAM) / (h w) without bias.
    model = tiny_classifier(levels=1, pooling='avg', cache_features=False)
    model.head.class_conv.bias.set_value(paddle.zeros([3]))
    model.eval()
    with paddle.no_grad():  # the raw class maps at their own resolution, ReLU, then upsampled
        relu_cam = F.interpolate(F.relu(model({'image': images()})['cam']), size=[32, 32],
                                 mode='bilinear', align_corners=False).numpy()
    grad_cam = build_cam('gradcam', model)(images())
    h_w = 16 * 16
    assert relu_cam.max() > 0
    np.testing.assert_allclose(grad_cam.maps * h_w, relu_cam, rtol=1e-4, atol=1e-5)


def test_layer_cam_of_a_linear_head_weights_features_by_positive_class_weights():
    # dlogit/dA_nij = w_n / (h w) everywhere, so LayerCAM = ReLU(sum_n ReLU(w_n) A_n) / (h w).
    model = tiny_classifier(levels=1, pooling='avg', cache_features=False)
    model.eval()
    with paddle.no_grad():
        feats = model.backbone({'image': images()})[0].numpy()  # [B, N, h, w]
    weights = model.head.class_conv.weight.numpy()[:, :, 0, 0]  # [C, N]
    expected = np.maximum(np.einsum('cn,bnij->bcij', np.maximum(weights, 0), feats), 0) / 16 ** 2
    expected = F.interpolate(paddle.to_tensor(expected), size=[32, 32], mode='bilinear',
                             align_corners=False).numpy()
    result = build_cam('layercam', model)(images())
    np.testing.assert_allclose(result.maps, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('name', sorted(CAM_METHODS))
def test_a_batch_equals_its_images_one_by_one(name):
    method = build_cam(name, tiny_classifier(cache_features=False))
    batch = images(batch=3)
    together = method(batch)
    for i in range(3):
        alone = method(batch[i:i + 1])
        np.testing.assert_allclose(together.maps[i:i + 1], alone.maps, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(together.scores[i:i + 1], alone.scores, rtol=1e-5)


@pytest.mark.parametrize('name', sorted(CAM_METHODS))
def test_one_class_is_the_slice_of_all_classes(name):
    method = build_cam(name, tiny_classifier(cache_features=False))
    every = method(images())
    one = method(images(), classes=[1])
    assert one.classes == [1] and one.maps.shape == (2, 1, 32, 32)
    np.testing.assert_allclose(one.maps, every.maps[:, 1:2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(one.scores, every.scores, rtol=1e-6)


def test_class_indices_out_of_range_are_refused():
    with pytest.raises(ValueError, match=r'indices in \[0, 3\)'):
        build_cam('gradcam', tiny_classifier())(images(), classes=[3])


class InputAsMap:
    """A stub method whose map is the input's first channel: TTA must give it back unchanged."""

    def __call__(self, image, classes=None):
        return CAMResult(image.numpy()[:, :1], np.full([image.shape[0], 1], 0.5, 'float32'), [0])


def test_flip_smoothing_mirrors_the_maps_back():
    image = images(batch=2)
    smoothed = SmoothedCAM(InputAsMap(), flips=True)(image)
    np.testing.assert_array_equal(smoothed.maps, image.numpy()[:, :1])


def test_scale_smoothing_resizes_maps_back_to_the_input_size():
    image = paddle.full([1, 3, 32, 32], 0.25)
    smoothed = SmoothedCAM(InputAsMap(), flips=False, scales=(1.0, 0.5, 1.5))(image)
    assert smoothed.maps.shape == (1, 1, 32, 32)
    np.testing.assert_allclose(smoothed.maps, 0.25, rtol=1e-6)


@pytest.mark.parametrize('name', ['cam', 'gradcam'])
def test_smoothed_maps_of_a_mirrored_image_are_the_mirrored_maps(name):
    method = build_cam(name, tiny_classifier(cache_features=False), flips=True, scales=(1.0, 0.75))
    assert isinstance(method, SmoothedCAM)
    image = images(batch=1)
    direct = method(image)
    mirrored = method(image.flip([3]))
    assert direct.maps.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(mirrored.maps[..., ::-1], direct.maps, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mirrored.scores, direct.scores, rtol=1e-5)


def _hook_count(model):
    return sum(len(layer._forward_post_hooks) for layer in model.sublayers(include_self=True))


@pytest.mark.parametrize('name', GRADIENT_METHODS)
def test_calls_leave_no_hooks_modes_cache_or_gradients_behind(name):
    model = tiny_classifier(cache_features=True)
    model.train()  # head in train mode (dropout active), frozen backbone in eval mode
    model.head.class_conv.eval()  # and an odd mix: every layer's own mode must come back
    modes = [layer.training for layer in model.sublayers(include_self=True)]
    cache, hooks = model.cache, _hook_count(model)
    method = build_cam(name, model)
    with paddle.no_grad():  # the caller's no_grad must not stop the gradient methods
        first = method(images())
    second = method(images())
    np.testing.assert_array_equal(first.maps, second.maps)
    assert _hook_count(model) == hooks
    assert [layer.training for layer in model.sublayers(include_self=True)] == modes
    assert model.cache is cache and cache.hits == cache.misses == 0
    assert all(param.grad is None for param in model.parameters())


def test_class_map_cam_uses_the_feature_cache():
    cached = tiny_classifier(cache_features=True)
    method = build_cam('cam', cached)
    first = method(images())
    second = method(images())
    assert cached.cache.misses == 2 and cached.cache.hits == 2
    np.testing.assert_array_equal(first.maps, second.maps)
    plain = build_cam('cam', tiny_classifier(cache_features=False))(images())
    np.testing.assert_allclose(first.maps, plain.maps, rtol=1e-2, atol=1e-3)  # float16 cache


def test_missing_target_layer_names_valid_ones():
    model = tiny_classifier()
    with pytest.raises(ValueError, match=r'no sublayer "backbone\.conv3".*backbone\.conv1'):
        build_cam('gradcam', model, target_layer='backbone.conv3')
    with pytest.raises(ValueError, match='not a sublayer'):
        build_cam('gradcam', model, target_layer=paddle.nn.ReLU())
    with pytest.raises(ValueError, match='takes no target_layer'):
        build_cam('cam', model, target_layer='backbone.conv1')
    with pytest.raises(ValueError, match='unknown CAM method'):
        build_cam('scorecam', model)


class SharedConvNet(paddle.nn.Layer):
    """Applies one conv twice: no single activation to explain."""

    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 3, 3, padding=1)

    def forward(self, image):
        return self.conv(self.conv(image)).mean(axis=[2, 3])


def test_a_target_layer_that_runs_twice_is_refused():
    net = SharedConvNet()
    with pytest.raises(RuntimeError, match='ran 2 times'):
        build_cam('gradcam', net, target_layer='conv')(images())
    assert _hook_count(net) == 0
