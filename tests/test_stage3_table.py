"""The stage-3 benchmark table: rows from the pipeline reports of each variant."""
import json
import os

from ppdet_wsd.benchmarks.stage3 import (SHARED_STAGES, VARIANTS, finished_reports,
                                         prepare_variant, stage3_lines, variant_spec)


def _report(det_map50, fit, ap):
    return {'det_map50': det_map50, 'det_map50_95': det_map50 / 2, 'det_map50_agnostic': 0.5,
            'fit_map50': fit, 'images_per_second_infer': 12.0,
            'seconds_per_stage': {'detector': 300.0},
            'detector': {'per_class_ap50': {'crack': ap}, 'image_auroc': 0.9,
                         'at_operating_threshold': {'miss_rate': 0.1, 'overkill_rate': 0.2}},
            'localization': {'map50': 0.2, 'map50_95': 0.05, 'per_class_ap50': {'crack': 0.2}},
            'verdict_source': 'classifier', 'verdict_val_auroc': {'classifier': 0.99},
            'miss_rate': 0.05, 'overkill_rate': 0.04, 'verdict_threshold': 0.3}


def test_rows_weak_over_full_and_a_variant_not_run():
    reports = {'default': _report(0.3, 0.6, 0.3), 'supervised': _report(0.6, 0.9, 0.6),
               'refinement': None}
    lines = stage3_lines(reports, ['crack'])
    table = '\n'.join(lines)
    assert '| (a) pseudo boxes alone (made for the test images from their labels) | 0.200 | ' \
           '0.050 | n/a | 0.33 |' in table
    assert '| (b) weak detector, no refinement (the default pipeline) | 0.300 | 0.150 | 0.500 ' \
           '| 0.50 | 0.600 | 0.100 / 0.200 | 0.900 | 300 s | 12.0 |' in table
    assert '| (c) weak detector with refinement | not run |' + ' |' * 8 in lines
    assert '| (d) | 0.600 |' in table and 'source **classifier** (val AUROC classifier 0.990)' in table


def test_a_variant_writes_beside_the_run_with_its_own_detector_opts():
    spec = {'output_dir': 'out/run', 'detector': {'opts': {'epoch': 3}}}
    variant = variant_spec(spec, 'out/run_x', {'Refinement': {'enable': False}})
    assert variant['output_dir'] == 'out/run_x'
    assert variant['detector']['opts'] == {'epoch': 3, 'Refinement': {'enable': False}}
    assert spec['detector']['opts'] == {'epoch': 3}, 'the run itself is untouched'


def test_the_supervised_yardstick_trains_twice_the_runs_steps():
    spec = {'output_dir': 'out/run', 'detector': {'opts': {}, 'steps': 560}}
    supervised = VARIANTS['supervised']
    assert variant_spec(spec, 'out/run_s', supervised.opts,
                        supervised.steps_factor)['detector']['steps'] == 1120
    assert variant_spec(spec, 'out/run_r', VARIANTS['refinement'].opts,
                        VARIANTS['refinement'].steps_factor)['detector']['steps'] == 560
    spec['detector']['steps'] = None  # the stage config's epochs: no budget to scale
    assert variant_spec(spec, 'out/run_s', {}, 2)['detector']['steps'] is None


def test_seed_spread_rows_and_seed_folders(tmp_path):
    from ppdet_wsd.benchmarks.stage3 import seed_dir, seed_lines
    reports = {'refinement': _report(0.07, 0.16, 0.1), 'default': _report(0.128, 0.37, 0.1)}
    seeded = {('refinement', 1): _report(0.15, 0.2, 0.1), ('refinement', 2): _report(0.11, 0.18, 0.1),
              ('default', 1): _report(0.10, 0.35, 0.1)}
    lines = seed_lines(reports, seeded)
    assert '| (c) with refinement | run, 1, 2 | 0.070, 0.150, 0.110 | 0.110 | 0.070 - 0.150 | ' \
           '0.180 | 0.900 |' in lines
    assert '| (b) no refinement | run, 1 | 0.128, 0.100 | 0.114 | 0.100 - 0.128 | 0.360 | ' \
           '0.900 |' in lines
    assert seed_lines(reports, {}) == []
    spec = {'output_dir': str(tmp_path / 'run') + '/'}
    assert seed_dir(spec, 'default', 3) == str(tmp_path / 'run_seed3')
    assert seed_dir(spec, 'refinement', 3) == str(tmp_path / 'run_refinement_seed3')


def test_the_finished_reports_are_read_from_the_run_and_its_variant_folders(tmp_path):
    run = str(tmp_path / 'run')
    for folder, value in ((run, 0.3), (run + '_supervised', 0.6)):
        os.makedirs(folder)
        with open(os.path.join(folder, 'report.json'), 'w') as f:
            json.dump(_report(value, 0.5, value), f)
    reports = finished_reports({'output_dir': run + os.sep})
    assert set(reports) == {'default', 'refinement', 'supervised'}
    assert reports['default']['det_map50'] == 0.3 and reports['default']['folder'] == run
    assert reports['supervised']['det_map50'] == 0.6 and reports['refinement'] is None


def test_a_variant_gets_the_runs_current_stages_1_2_replacing_stale_ones(tmp_path):
    run, variant = tmp_path / 'run', tmp_path / 'run_supervised'
    (run / 'features').mkdir(parents=True)
    for stage in SHARED_STAGES:
        (run / stage).mkdir()
        (run / stage / 'stage.json').write_text(f'{stage} now')
    (variant / 'pseudo_boxes').mkdir(parents=True)
    (variant / 'pseudo_boxes' / 'stage.json').write_text('pseudo_boxes of an old run')
    (variant / 'pseudo_boxes' / 'old.json').write_text('{}')
    prepare_variant(str(run), str(variant))
    for stage in SHARED_STAGES:
        assert (variant / stage / 'stage.json').read_text() == f'{stage} now'
    assert not (variant / 'pseudo_boxes' / 'old.json').exists()
    assert os.path.realpath(variant / 'features') == os.path.realpath(run / 'features')
