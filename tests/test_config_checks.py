"""Configs: a misspelt key, a value of the wrong type, a missing path or a class count that
disagrees with the dataset is one line naming the key, before any work."""
import os

import pytest

from conftest import REPO_ROOT
from ppdet_wsd.engine.commands import pseudo_options
from ppdet_wsd.engine.training.refinement import refinement_options
from ppdet_wsd.evidence.settings import check_patch_evidence
from ppdet_wsd.pipeline.spec import PipelineConfigError, load_pipeline_config
from tool_runner import _run

DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')


@pytest.mark.parametrize('overrides, message', [
    ({'nprocs': 2}, '"nprocs" is not a key; did you mean "nproc"?'),
    ({'evaluation': {'treshold': 0.3}},
     '"evaluation.treshold" is not a key; did you mean "threshold"? (known: grid_images, '
     'threshold)'),
    ({'detector': {'adapt_anchor': False}},
     '"detector.adapt_anchor" is not a key; did you mean "adapt_anchors"?'),
    ({'strict': 'yes'}, '"strict" must be true or false, got \'yes\''),
    ({'export': {'speed_images': 2.5}}, '"export.speed_images" must be a whole number >= 0'),
    ({'export': {'heat_map': True}}, '"export.heat_map" is not a key; did you mean "heat_maps"?'),
    ({'export': {'heat_maps': 'yes'}}, '"export.heat_maps" must be true or false'),
    ({'evaluation': {'grid_images': True}}, '"evaluation.grid_images" must be a whole number'),
    ({'detector': {'opts': ['epoch=3']}}, '"detector.opts" must be a mapping'),
    ({'evaluation': 'val'}, '"evaluation" must be a mapping, got \'val\''),
    ({'classifier': {'opts': {'PatchEvidence': {'heatmap': 'mil'}}}},
     'classifier.opts.PatchEvidence.heatmap: not a setting here; did you mean "heat_map"?'),
    ({'classifier': {'opts': {'PatchEvidence': {'extent': '0.4'}}}},
     "classifier.opts.PatchEvidence.extent: expected float (like the default 0.5), got '0.4'"),
    ({'classifier': {'opts': {'PatchEvidence': {'mil_epochs': 8.5}}}},
     'classifier.opts.PatchEvidence.mil_epochs: expected int (like the default 80), got 8.5'),
    ({'classifier': {'opts': {'PatchEvidence': {'short_side': 'big'}}}},
     "classifier.opts.PatchEvidence.short_side: expected auto or pixels"),
    ({'pseudo_boxes': {'opts': {'PatchEvidence': {'heat_map': 'mil'}}}},
     'pseudo_boxes.opts.PatchEvidence.heat_map: not a setting here'),
    ({'dataset_dir': 'no/such/folder'}, '"dataset_dir" names '),
])
def test_a_wrong_pipeline_key_is_one_line_naming_it(overrides, message, tiny_dataset, tmp_path):
    base = {'dataset_dir': tiny_dataset, 'output_dir': str(tmp_path / 'out')}
    with pytest.raises(PipelineConfigError) as error:
        load_pipeline_config(DEFAULT, dict(base, **overrides))
    text = str(error.value)
    assert text.startswith(f'{DEFAULT}: ') and '\n' not in text
    assert message in text
    assert not os.path.exists(tmp_path / 'out'), 'nothing is written'


def test_good_settings_pass_and_whole_numbers_may_stand_for_floats():
    check_patch_evidence({'extent': 1, 'short_side': 'auto', 'max_short_side': 512,
                          'tighten_boxes': False, 'heat_map': 'mil'})
    check_patch_evidence({'short_side': 384})
    with pytest.raises(ValueError, match=r'PatchEvidence.tighten_boxes: expected bool'):
        check_patch_evidence({'tighten_boxes': 1})


def test_the_pseudo_box_and_refinement_sections_fill_defaults_and_name_a_misspelt_key():
    options = pseudo_options({'PseudoBoxes': {'split': None, 'scales': [1.0, 1.25]}})
    assert options['split'] is None and options['scales'] == [1.0, 1.25]
    assert options['method'] == 'cam' and options['few_boxes'] == 0 and options['chunk_size'] == 64
    assert pseudo_options({})['scales'] == [1.0]
    with pytest.raises(ValueError, match=r'PseudoBoxes.methd: not a setting here; did you mean '
                                         r'"method"\?'):
        pseudo_options({'PseudoBoxes': {'methd': 'gradcam'}})
    assert refinement_options({})['enable'] is False
    with pytest.raises(ValueError, match=r'Refinement.min_scor: not a setting here; did you '
                                         r'mean "min_score"\?'):
        refinement_options({'Refinement': {'enable': True, 'min_scor': 0.1}})


def test_the_pipeline_tool_reports_a_config_error_in_one_line(tiny_dataset, tmp_path):
    result = _run('run_pipeline.py', ['-c', DEFAULT, '-o', f'dataset_dir={tiny_dataset}',
                                      'output_dir=out', 'evaluation.treshold=0.3'],
                  str(tmp_path))
    assert result.returncode == 1 and result.stdout == ''
    assert result.stderr.splitlines() == [
        f'error: {DEFAULT}: "evaluation.treshold" is not a key; did you mean "threshold"? '
        f'(known: grid_images, threshold)']
