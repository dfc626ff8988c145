import numpy as np
import paddle
import pytest
from ppdet.core.workspace import create, load_config, merge_config

from conftest import REPO_ROOT
from tiny_models import tiny_classifier
from ppdet_wsd.backbones.paddleclas_backbone import PaddleClasBackbone
from ppdet_wsd.modeling.cam_classifier import CAMClassifier
from ppdet_wsd.modeling.cam_head import CAMHead, pool_maps
from ppdet_wsd.modeling.feature_cache import FeatureCache


def test_pooling_by_hand():
    maps = paddle.to_tensor(np.array([[[[0.0, 1.0], [2.0, 5.0]]]], dtype=np.float32))
    assert pool_maps(maps, 'avg').item() == pytest.approx(2.0)
    assert pool_maps(maps, 'max').item() == pytest.approx(5.0)
    lse = pool_maps(maps, 'lse', lse_r=2.0).item()
    assert lse == pytest.approx(np.log(np.mean(np.exp(2 * np.array([0, 1, 2, 5])))) / 2)
    assert 2.0 < lse < 5.0


def test_loss_is_zero_dim_and_finite_on_an_all_good_batch():
    logits = paddle.to_tensor([[80.0, -3.0], [0.0, 120.0]])
    loss = CAMHead.loss(logits, paddle.zeros([2, 2]))
    assert loss.shape == [] and np.isfinite(float(loss))


def _classifier(**kwargs):
    return tiny_classifier(num_classes=2, dropout=0.0, **kwargs)


def test_frozen_backbone_trains_only_the_head_and_keeps_bn_statistics():
    model = _classifier(freeze_backbone=True, cache_features=False)
    model.train()
    assert not model.backbone.training and model.head.training
    mean_before = model.backbone.bn._mean.numpy().copy()
    batch = {'image': paddle.rand([2, 3, 16, 16]), 'img_label': paddle.to_tensor([[1., 0.], [0., 0.]])}
    model(batch)['loss'].backward()
    assert model.backbone.conv1.weight.grad is None
    assert model.head.class_conv.weight.grad is not None
    np.testing.assert_array_equal(model.backbone.bn._mean.numpy(), mean_before)


def test_feature_cache_is_exact_and_skips_repeat_work():
    model = _classifier(freeze_backbone=True, cache_features=True)
    model.eval()
    images = paddle.rand([3, 3, 16, 16])
    first = model({'image': images})
    calls = model.backbone.calls
    again = model({'image': images})
    assert model.backbone.calls == calls, 'the cached images must not run the backbone again'
    np.testing.assert_allclose(first['scores'].numpy(), again['scores'].numpy(), rtol=1e-6)
    model.cache = None
    plain = model({'image': images})
    np.testing.assert_allclose(first['scores'].numpy(), plain['scores'].numpy(), atol=2e-3)
    assert model.backbone.calls == calls + 1


def test_cache_computes_only_new_images_of_a_batch():
    cache = FeatureCache()
    seen = []

    def compute(x):
        seen.append(x.shape[0])
        return [x * 2]
    a, b = paddle.rand([1, 3, 4, 4]), paddle.rand([1, 3, 4, 4])
    cache(compute, a)
    out = cache(compute, paddle.concat([b, a]))
    assert seen == [1, 1] and cache.hits == 1 and cache.misses == 2
    np.testing.assert_allclose(out[0].numpy()[1], a.numpy()[0] * 2, rtol=1e-3)


def test_eval_outputs_scores_and_cams():
    model = _classifier()
    model.eval()
    out = model({'image': paddle.rand([2, 3, 16, 16])})
    assert out['scores'].shape == [2, 2] and out['cam'].shape == [2, 2, 8, 8]
    assert float(out['scores'].min()) >= 0 and float(out['scores'].max()) <= 1


def test_paddleclas_resnet_plugs_in_with_local_weights(tmp_path):
    source = PaddleClasBackbone('ResNet18_vd', return_stages=[2, 3])
    path = str(tmp_path / 'resnet18_vd.pdparams')
    paddle.save(source.net.state_dict(), path)
    loaded = PaddleClasBackbone('ResNet18_vd', return_stages=[2, 3], pretrained=path)
    name = 'stem.0.conv.weight'
    np.testing.assert_array_equal(loaded.net.state_dict()[name].numpy(),
                                  source.net.state_dict()[name].numpy())
    model = CAMClassifier(loaded, CAMHead(num_classes=3, in_channels=256 + 512))
    model.eval()
    out = model({'image': paddle.rand([1, 3, 64, 64])})
    assert out['cam'].shape == [1, 3, 4, 4]


@pytest.mark.parametrize('name', ['ResNet50_vd', 'MobileNetV3_large_x1_0'])
def test_other_paddleclas_backbones_report_their_shapes(name):
    backbone = PaddleClasBackbone(name, return_stages=[2, 3])
    feats = backbone({'image': paddle.rand([1, 3, 64, 64])})
    assert [f.shape[1] for f in feats] == [s.channels for s in backbone.out_shape]
    assert [64 // f.shape[2] for f in feats] == [s.stride for s in backbone.out_shape]


def test_paddleclas_refuses_urls_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match='local .pdparams'):
        PaddleClasBackbone('ResNet18_vd', pretrained='https://example.com/x.pdparams')
    with pytest.raises(FileNotFoundError, match='nope.pdparams'):
        PaddleClasBackbone('ResNet18_vd', pretrained=str(tmp_path / 'nope.pdparams'))


def test_yaml_names_the_parts(tmp_path):
    cfg = load_config(f'{REPO_ROOT}/configs/_base_/models/cam_efficientnet_lite0.yml')
    merge_config({'num_classes': 4, 'EfficientNetLite': {'pretrained': None}})
    model = create(cfg.architecture)
    assert isinstance(model, CAMClassifier)
    assert model.head.class_conv.weight.shape == [4, 112 + 1280, 1, 1]


def test_fine_tuning_the_last_stages_trains_only_them():
    from ppdet_wsd.backbones.efficientnet_lite import EfficientNetLite
    backbone = EfficientNetLite(pretrained=None, return_idx=[4, 7], frozen_stages=6)
    model = CAMClassifier(backbone, CAMHead(num_classes=2, in_channels=112 + 1280),
                          freeze_backbone=False)
    assert model.cache is None, 'no cache when the backbone trains'
    model.train()
    batch = {'image': paddle.rand([2, 3, 64, 64]), 'img_label': paddle.to_tensor([[1., 0.], [0., 1.]])}
    model(batch)['loss'].backward()
    assert backbone.stages[4][0].parameters()[0].grad is None   # frozen (stem + stages 0..5)
    assert backbone.stages[6][0].parameters()[0].grad is not None  # stage 6 trains
    assert backbone.head.parameters()[0].grad is not None
