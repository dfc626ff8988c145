"""Bad input in the pipeline: the dataset stage runs the same check as
``tools/check_dataset.py``; unreadable images among many are skipped (counted, listed in
``skipped_images.txt``, left out by every stage), ``strict`` makes them errors listing
every file at once."""
import json
import os
import shutil

import pytest

from conftest import REPO_ROOT
from test_pipeline_run import tiny_pipeline
from tool_runner import run_tool
from ppdet_wsd.pipeline.runner import SKIPPED_FILE, PipelineError, profile_dataset
from ppdet_wsd.pipeline.spec import load_pipeline_config

DEFAULT = os.path.join(REPO_ROOT, 'configs', 'pipeline', 'default.yml')
BROKEN = {'crack_0000.png': b'', 'good_0003.png': b'\xff\xd8\xff not a jpeg'}


def spoiled_copy(tiny_dataset, folder):
    """The tiny dataset with an empty file, a corrupt file and a missing file."""
    shutil.copytree(tiny_dataset, folder)
    for name, data in BROKEN.items():
        with open(os.path.join(folder, 'images', name), 'wb') as f:
            f.write(data)
    os.remove(os.path.join(folder, 'images', 'spot_0002.png'))
    return folder


def _spec(data, tmp_path, **overrides):
    return load_pipeline_config(DEFAULT, dict(dataset_dir=data, output_dir=str(tmp_path / 'out'),
                                              **overrides))


def test_unreadable_images_are_skipped_counted_and_listed(tiny_dataset, tmp_path):
    data = spoiled_copy(tiny_dataset, str(tmp_path / 'data'))
    profile = profile_dataset(_spec(data, tmp_path))
    assert profile['check']['skipped_images'] == 3
    assert sum(profile['images'].values()) == 27
    listed = open(tmp_path / 'out' / SKIPPED_FILE).read().splitlines()
    assert listed == ['good_0003.png\tnot a readable image (corrupt or unknown format)',
                      'crack_0000.png\tempty file (0 bytes)',
                      'spot_0002.png\tfile not found']  # in the order of labels.csv
    summary = open(tmp_path / 'out' / 'dataset_check.txt').read()
    assert 'usable images: 27 of 30 listed; skipped 3; unlisted files 0' in summary


def test_strict_stops_before_training_naming_every_bad_file(tiny_dataset, tmp_path):
    data = spoiled_copy(tiny_dataset, str(tmp_path / 'data'))
    with pytest.raises(PipelineError) as error:
        profile_dataset(_spec(data, tmp_path, strict=True))
    assert str(error.value).splitlines() == [
        'stage "dataset": 3 problems:',
        '  good_0003.png: not a readable image (corrupt or unknown format) (strict: skips are '
        'errors)',
        '  crack_0000.png: empty file (0 bytes) (strict: skips are errors)',
        '  spot_0002.png: file not found (strict: skips are errors)']


@pytest.mark.slow
def test_the_pipeline_runs_through_unreadable_images_and_reports_them(tiny_dataset, tmp_path):
    data = spoiled_copy(tiny_dataset, str(tmp_path / 'data'))
    config = tiny_pipeline(str(tmp_path), data, detector_epochs=1)
    run_tool('run_pipeline.py', '-c', config, cwd=str(tmp_path))
    out = tmp_path / 'out'
    report = json.load(open(out / 'report.json'))
    assert report['dataset']['check']['skipped_images'] == 3
    assert sum(report['dataset']['images'].values()) == 27
    assert len(open(out / SKIPPED_FILE).read().splitlines()) == 3
    boxes = json.load(open(out / 'pseudo_boxes' / 'pseudo_boxes.json'))
    boxed = {os.path.basename(im['file_name']) for im in boxes['images']}
    assert not boxed & {'good_0003.png', 'crack_0000.png', 'spot_0002.png'}
    assert 'images skipped (unreadable or missing)</td><td>3 (listed in skipped_images.txt' \
        in open(out / 'report.html').read()
