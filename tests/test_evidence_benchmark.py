"""The evidence benchmark's ablation: each box variant switches off its own step only."""
import types

from ppdet_wsd.benchmarks.evidence import VARIANTS, _variant
from ppdet_wsd.evidence.settings import PatchEvidence
from ppdet_wsd.utils.settings import setting_defaults


def _fitted_model():
    """A stand-in for a fitted EvidenceModel: the default settings, nothing else read."""
    return types.SimpleNamespace(settings=setting_defaults(PatchEvidence), levels={})


def test_each_box_variant_switches_off_only_its_own_step():
    model = _fitted_model()
    steps = {'fused_untightened': 'tighten_boxes', 'fused_straight': 'grow_lines',
             'fused_ungrouped': 'group_cells'}
    for name, key in steps.items():
        assert name in VARIANTS
        variant = _variant(model, name, val_items=None)
        changed = {k for k in model.settings if variant.settings[k] != model.settings[k]}
        assert changed == {key}, name
        assert not variant.settings[key]
    assert model.settings['tighten_boxes'] and model.settings['grow_lines'], \
        'the fitted model keeps its settings'


def test_the_default_variant_is_the_fitted_model_unchanged():
    model = _fitted_model()
    assert _variant(model, 'fused', val_items=None).settings == model.settings
