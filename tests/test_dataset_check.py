"""Bad input: every messy-data case gets its decision from ``check_dataset`` (error listing
every offending file at once, counted skip, or note), and ``tools/check_dataset.py``
prints the summary."""
import json
import os

import cv2
import numpy as np
import pytest

from conftest import write_image
from ppdet_wsd.data import check as check_module
from ppdet_wsd.data.check import check_dataset
from ppdet_wsd.data.image_label_dataset import ImageLabelDataSet
from ppdet_wsd.data.labels import DatasetError
from tool_runner import _run

BASE = {'good': 4, 'scratch': 3, 'spot': 3}


def _texture(h, w, seed, channels=3, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    top = 65535 if dtype == np.uint16 else 255
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, top, shape).astype(dtype)


def make_dataset(root, per_label=BASE, size=32, splits=True, extra_rows=(), newline='\n',
                 bom=False):
    """A small standard-layout dataset: ``per_label`` images of each label, written as
    ``<label>_<i>.png``, split train / val / test in turn (the first two of each label go to
    train, so every class is learnt). Returns the rows of labels.csv."""
    rows = []
    for label, n in per_label.items():
        for i in range(n):
            name = f'{label}_{i}.png'
            write_image(os.path.join(root, 'images', name), _texture(size, size, len(rows)))
            rows.append((name, label, ('train', 'train', 'val', 'test')[i % 4]))
    rows += list(extra_rows)
    text = newline.join(['file,label'] + [f'{f},{label}' for f, label, _ in rows]) + newline
    with open(os.path.join(root, 'labels.csv'), 'w', encoding='utf-8-sig' if bom else 'utf-8',
              newline='') as f:
        f.write(text)
    if splits:
        with open(os.path.join(root, 'splits.csv'), 'w', encoding='utf-8', newline='') as f:
            f.write(newline.join(['file,split'] + [f'{f},{s}' for f, _, s in rows]) + newline)
    return rows


def _add(root, name, image, label, split):
    """Write ``images/<name>`` (raw bytes or an array) and append its label and split rows."""
    path = os.path.join(root, 'images', name)
    if isinstance(image, bytes):
        with open(path, 'wb') as f:
            f.write(image)
    elif image is not None:
        assert cv2.imencode('.png', image)[0]
        cv2.imencode('.png', image)[1].tofile(path)  # non-ASCII names too
    for file, text in (('labels.csv', f'{name},{label}\n'), ('splits.csv', f'{name},{split}\n')):
        with open(os.path.join(root, file), 'a', encoding='utf-8') as f:
            f.write(text)


@pytest.fixture
def messy(tmp_path):
    """A dataset a run can use, holding every case that is skipped or noted."""
    root = str(tmp_path / 'messy')
    make_dataset(root, newline='\r\n', bom=True)
    _add(root, 'corrupt.png', b'\x89PNG\r\n\x1a\n garbage, not an image', 'spot', 'train')
    _add(root, 'empty.png', b'', 'good', 'train')
    _add(root, 'missing.png', None, 'scratch', 'train')
    _add(root, 'grey.png', _texture(32, 32, 1, channels=1), 'good', 'train')
    _add(root, 'rgba.png', _texture(32, 32, 2, channels=4), 'good', 'val')
    _add(root, 'deep16.png', _texture(32, 32, 3, dtype=np.uint16), 'spot', 'train')
    _add(root, 'huge.png', _texture(16, 8000, 4), 'good', 'train')
    _add(root, 'tiny.png', _texture(8, 8, 5), 'good', 'test')
    _add(root, 'défaut_ü.png', _texture(32, 32, 6), 'scratch', 'train')
    _add(root, 'scrach_0.png', _texture(32, 32, 7), 'scrach', 'train')
    _add(root, 'dent_0.png', _texture(32, 32, 8), 'dent', 'train')
    write_image(os.path.join(root, 'images', 'unlisted.png'), _texture(32, 32, 9))
    coco = {'images': [{'id': 1, 'file_name': 'spot_3.png', 'width': 32, 'height': 32}],
            'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1,
                             'bbox': [20, 20, 30, 5]}],
            'categories': [{'id': 1, 'name': 'spot'}]}
    with open(os.path.join(root, 'annotations.json'), 'w') as f:
        json.dump(coco, f)
    return root


def test_a_messy_dataset_is_usable_with_every_skip_counted_and_every_oddity_noted(messy):
    check = check_dataset(messy)
    assert check.errors == []
    assert check.listed == 21 and len(check.images) == 18
    assert check.skipped == [('corrupt.png', 'not a readable image (corrupt or unknown format)'),
                             ('empty.png', 'empty file (0 bytes)'),
                             ('missing.png', 'file not found')]
    assert check.unlisted == ['unlisted.png']
    assert check.skipped_lines()[-1] == 'unlisted.png\tnot listed in labels.csv: not used'
    assert check.sizes['huge.png'] == (16, 8000) and check.sizes['tiny.png'] == (8, 8)
    assert check.sizes['défaut_ü.png'] == (32, 32)
    assert dict(check.kinds) == {'RGB 8-bit': 15, 'grey 8-bit': 1, 'RGBA 8-bit': 1,
                                 'RGB 16-bit': 1}
    assert check.classes == ['dent', 'scrach', 'scratch', 'spot']
    notes = '\n'.join(check.notes)
    assert len(check.notes) == 7, notes
    assert '1 image file(s) in' in notes and '"unlisted.png"' in notes
    assert 'label "scrach" (1 images: "scrach_0.png") looks like a misspelling of "scratch"' \
        in notes
    assert 'class "dent" has one image ("dent_0.png")' in notes
    assert 'class "scrach" has one image' in notes
    assert 'with a side under 32 px' in notes and '"tiny.png"' in notes
    assert 'with a side over 4096 px' in notes and '"huge.png"' in notes
    assert 'boxes reaching outside the image' in notes and '"spot_3.png"' in notes
    assert check.counts()['all'] == {'train': 12, 'val': 4, 'test': 2}
    assert check.to_dict()['skipped_images'] == 3


def test_the_summary_table_counts_per_split_and_class(messy):
    lines = check_dataset(messy).summary().splitlines()
    assert lines[1].split() == ['train', 'val', 'test', 'total']
    assert lines[2].split() == ['good', '4', '2', '2', '8']
    assert [line.split() for line in lines[3:8]] == [
        ['dent', '1', '0', '0', '1'], ['scrach', '1', '0', '0', '1'],
        ['scratch', '3', '1', '0', '4'], ['spot', '3', '1', '0', '4'],
        ['all', '12', '4', '2', '18']]
    assert 'sizes: height 8..32 (median 32), width 8..8000 (median 32) px' in lines
    assert 'usable images: 18 of 21 listed; skipped 3; unlisted files 1' in lines
    assert 'problems: 10' in lines
    assert '  skipped: missing.png: file not found' in lines


def test_strict_turns_every_skip_and_unlisted_file_into_an_error(messy):
    check = check_dataset(messy, strict=True)
    assert [e.split(':')[0] for e in check.errors] == ['corrupt.png', 'empty.png', 'missing.png',
                                                       'unlisted.png']
    with pytest.raises(DatasetError, match=r'^4 problems:\n  corrupt.png: not a readable'):
        check.raise_errors()


def test_every_csv_problem_is_listed_at_once(tmp_path):
    root = str(tmp_path)
    make_dataset(root, extra_rows=[('scratch_0.png', 'scratch', 'train'),
                                   ('spot_0.png', 'good;spot', 'train'),
                                   ('x.png', '', 'train'), ('Spot_9.png', 'Spot', 'train')])
    with open(os.path.join(root, 'labels.csv'), 'a') as f:
        f.write('a.png,good,extra\n')
    split_text = open(os.path.join(root, 'splits.csv')).read()
    with open(os.path.join(root, 'splits.csv'), 'w') as f:
        f.write(split_text.replace('good_1.png,train', 'good_1.png,holdout') + 'spot_1.png,val\n')
    check = check_dataset(root)
    labels, splits = os.path.join(root, 'labels.csv'), os.path.join(root, 'splits.csv')
    assert check.errors == [
        f"{labels}: line 16: expected 2 columns \"file,label\", got ['a.png', 'good', 'extra']",
        f'{labels}: line 12: "scratch_0.png" is listed again (first on line 6)',
        f'{labels}: line 13: "spot_0.png" is listed again (first on line 9)',
        f'{labels}: line 14: empty class name in label ""',
        f'{splits}: line 3: split must be one of train/val/test, got "holdout"',
        f'{splits}: line 12: "scratch_0.png" is listed again (first on line 6)',
        f'{splits}: line 13: "spot_0.png" is listed again (first on line 9)',
        f'{splits}: line 16: "spot_1.png" is listed again (first on line 10)',
        f'{splits}: no row for "good_1.png" (listed in labels.csv)',
        f'{labels}: label "Spot" (1 images: "Spot_9.png") and "spot" (3 images) differ only '
        f'in case or separators: use one spelling']
    with pytest.raises(DatasetError, match=r'^10 problems:\n  .*line 16'):
        check.raise_errors()


@pytest.mark.parametrize('per_label, message', [
    ({'good': 8}, 'every image is labelled good'),
    ({'good': 1, 'crack': 1}, 'the val split has no usable image (0 listed)'),
    ({'crack': 8}, 'every image is labelled "crack" and none is good'),
])
def test_labels_that_teach_nothing_are_errors(tmp_path, per_label, message):
    make_dataset(str(tmp_path), per_label)
    assert message in '\n'.join(check_dataset(str(tmp_path)).errors)


def test_no_good_image_is_a_note_and_class_folders_work(tmp_path):
    for label in ('crack', 'spot'):
        for i in range(10):
            write_image(str(tmp_path / label / f'{i}.png'), _texture(32, 32, i))
    check = check_dataset(str(tmp_path))
    assert check.errors == [] and check.layout == 'class folders'
    assert check.notes == ['no good image: heat maps from the patch classifier alone, and no '
                           'image AUROC or over-kill rate (docs/datasets.md)']
    assert check.counts()['all'] == {'train': 14, 'val': 2, 'test': 4}


def test_a_dataset_whose_images_are_all_unreadable_stops(tmp_path):
    make_dataset(str(tmp_path))
    for name in os.listdir(tmp_path / 'images'):
        (tmp_path / 'images' / name).write_bytes(b'')
    check = check_dataset(str(tmp_path))
    assert len(check.skipped) == 10
    assert [e.split(': ', 1)[1] for e in check.errors] == [
        f'the {s} split has no usable image ({n} listed); check splits.csv, or add images'
        for s, n in (('train', 6), ('val', 3), ('test', 1))]


def test_a_csv_that_is_not_utf8_or_has_no_image_folder(tmp_path):
    make_dataset(str(tmp_path))
    with open(tmp_path / 'labels.csv', 'ab') as f:
        f.write('caf\xe9.png,good\n'.encode('latin-1'))
    assert 'not UTF-8 text' in check_dataset(str(tmp_path)).errors[0]
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'labels.csv').write_text('file,label\na.png,good\n')
    assert check_dataset(str(tmp_path / 'other')).errors == [
        f'{tmp_path / "other" / "images"}: image folder not found']


def test_check_dataset_tool_prints_the_summary_and_fails_on_errors(messy, tmp_path):
    listing = str(tmp_path / 'skipped.txt')
    result = _run('check_dataset.py', [messy, '--skipped_list', listing], str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert 'usable images: 18 of 21 listed; skipped 3; unlisted files 1' in result.stdout
    assert open(listing).read().splitlines()[0] == \
        'corrupt.png\tnot a readable image (corrupt or unknown format)'
    result = _run('check_dataset.py', [messy, '--strict'], str(tmp_path))
    assert result.returncode == 1 and 'error: corrupt.png: not a readable image' in result.stdout
    result = _run('check_dataset.py', [str(tmp_path / 'nowhere')], str(tmp_path))
    assert result.stderr == f'error: {tmp_path / "nowhere"}: dataset folder not found\n'


def test_labels_outside_the_configured_classes_are_listed_at_once(tmp_path):
    make_dataset(str(tmp_path))
    dataset = ImageLabelDataSet(dataset_dir=str(tmp_path), split='train', classes=['scratch'])
    with pytest.raises(DatasetError) as error:
        dataset.parse_dataset()
    labels = tmp_path / 'labels.csv'
    assert str(error.value).splitlines() == ['3 problems:'] + [
        f'  {labels}: "spot_{i}.png" has label(s) [\'spot\'] not in the configured classes '
        f'[\'scratch\']' for i in range(3)]


def test_a_second_check_decodes_only_the_images_that_changed(messy, tmp_path, monkeypatch):
    cache = str(tmp_path / 'cache.json')
    first = check_dataset(messy, cache_file=cache)
    decoded = []
    real = check_module.inspect_image
    monkeypatch.setattr(check_module, 'inspect_image',
                        lambda path: decoded.append(os.path.basename(path)) or real(path))
    again = check_dataset(messy, cache_file=cache)
    assert decoded == ['missing.png'], 'a missing file is looked for again, nothing decoded'
    assert (again.skipped, again.sizes, again.kinds) == (first.skipped, first.sizes, first.kinds)
    write_image(os.path.join(messy, 'images', 'corrupt.png'), _texture(32, 32, 11))
    check = check_dataset(messy, cache_file=cache)
    assert decoded[1:] == ['corrupt.png', 'missing.png']
    assert [f for f, _ in check.skipped] == ['empty.png', 'missing.png']


def test_datasets_take_image_sizes_from_the_check_and_decode_only_changed_images(
        tmp_path, monkeypatch):
    from ppdet_wsd.data import image_label_dataset as dataset_module
    root = str(tmp_path)
    make_dataset(root)
    _add(root, 'broken.png', b'not a png', 'spot', 'train')
    cache = os.path.join(root, 'check_cache.json')
    check = check_dataset(root, cache_file=cache)
    assert [f for f, _ in check.skipped] == ['broken.png']
    decoded = []
    original = dataset_module.read_image_rgb
    monkeypatch.setattr(dataset_module, 'read_image_rgb',
                        lambda path: decoded.append(os.path.basename(path)) or original(path))
    dataset = ImageLabelDataSet(dataset_dir=root, split='train', check_cache=cache)
    dataset.parse_dataset()
    assert decoded == []  # every size came from the check
    assert [(os.path.basename(r['im_file']), r['h'], r['w']) for r in dataset.roidbs][:2] == \
        [('good_0.png', 32, 32), ('good_1.png', 32, 32)]
    assert [(os.path.basename(p), why) for p, why in dataset.skipped] == \
        [('broken.png', dict(check.skipped)['broken.png'])]
    write_image(os.path.join(root, 'images', 'good_1.png'), _texture(40, 24, 99))  # changed
    dataset = ImageLabelDataSet(dataset_dir=root, split='train', check_cache=cache)
    dataset.parse_dataset()
    assert decoded == ['good_1.png']
    assert [(r['h'], r['w']) for r in dataset.roidbs][:2] == [(32, 32), (40, 24)]
