import os

import pytest

from conftest import grey_image, write_image, write_labels
from ppdet_wsd.data.labels import (DatasetError, assign_splits, load_labeled_images,
                                   parse_label, read_labels_csv, seeded_split)


def test_parse_label_good_multi_and_bad():
    assert parse_label('good') == ()
    assert parse_label('spot; crack') == ('crack', 'spot')
    with pytest.raises(DatasetError, match='mixes'):
        parse_label('good;crack')
    with pytest.raises(DatasetError, match='empty'):
        parse_label('crack;')


def test_row_with_wrong_shape_names_file_and_line(tmp_path):
    path = write_labels(str(tmp_path), ['a.png,good', 'b.png,crack,extra'])
    with pytest.raises(DatasetError, match=r'labels.csv: line 3: expected 2 columns'):
        read_labels_csv(path)


def test_bad_header_and_duplicates(tmp_path):
    with pytest.raises(DatasetError, match='line 1: the header'):
        read_labels_csv(write_labels(str(tmp_path), ['a.png,good'], header='name,cls'))
    with pytest.raises(DatasetError, match='line 3: "a.png" is listed again'):
        read_labels_csv(write_labels(str(tmp_path), ['a.png,good', 'a.png,crack']))


def _images(n_per_label):
    rows = []
    for label, n in n_per_label.items():
        rows += [f'{label}_{i}.png,{label}' for i in range(n)]
    return rows


def test_seeded_split_is_stable_and_stratified(tmp_path):
    images = read_labels_csv(write_labels(str(tmp_path), _images({'good': 50, 'crack': 10})))
    fractions = {'train': 0.6, 'val': 0.2, 'test': 0.2}
    first, again = seeded_split(images, fractions, 7), seeded_split(images, fractions, 7)
    assert first == again
    cracks = [im.split for im in first if im.labels == ('crack',)]
    assert cracks.count('train') == 6 and cracks.count('val') == 2 and cracks.count('test') == 2
    assert seeded_split(images, fractions, 8) != first


def test_val_comes_from_train_never_from_test(tmp_path):
    images = read_labels_csv(write_labels(str(tmp_path), _images({'good': 40, 'spot': 20})))
    splits = {im.file: ('test' if i % 5 == 0 else 'train') for i, im in enumerate(images)}
    out = assign_splits(images, splits, val_fraction=0.25, test_fraction=0.2, seed=0)
    assert [im.file for im in out if im.split == 'test'] == \
        [f for f, s in splits.items() if s == 'test']
    val = [im for im in out if im.split == 'val']
    assert val and all(splits[im.file] == 'train' for im in val)


def test_splits_csv_must_cover_every_image(tmp_path):
    root = str(tmp_path)
    write_labels(root, ['a.png,good', 'b.png,crack'])
    with open(os.path.join(root, 'splits.csv'), 'w') as f:
        f.write('file,split\na.png,train\n')
    with pytest.raises(DatasetError, match='no row for 1 image.*b.png'):
        load_labeled_images(root)
    with open(os.path.join(root, 'splits.csv'), 'w') as f:
        f.write('file,split\na.png,train\nb.png,holdout\n')
    with pytest.raises(DatasetError, match='splits.csv: line 3: split must be'):
        load_labeled_images(root)


def test_class_folder_layout(tmp_path):
    for rel in ['good/1.png', 'good/2.png', 'scratch/x/3.png', 'spot/4.bmp']:
        write_image(str(tmp_path / rel), grey_image())
    (tmp_path / 'scratch' / 'notes.txt').write_text('ignored')
    images, image_root = load_labeled_images(str(tmp_path), val_fraction=0.0, test_fraction=0.0)
    assert image_root == str(tmp_path)
    assert {im.file: im.labels for im in images} == {
        'good/1.png': (), 'good/2.png': (), 'scratch/x/3.png': ('scratch',),
        'spot/4.bmp': ('spot',)}


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match='dataset folder not found'):
        load_labeled_images(str(tmp_path / 'nope'))
    with pytest.raises(DatasetError, match='neither labels.csv nor class folders'):
        load_labeled_images(str(tmp_path))


def test_labels_are_parsed_once_per_process_until_the_csv_changes(tmp_path, monkeypatch):
    from ppdet_wsd.data import labels as labels_module
    root = str(tmp_path)
    write_labels(root, _images({'good': 4, 'spot': 4}))
    scans = []
    original = labels_module.scan_layout
    monkeypatch.setattr(labels_module, 'scan_layout',
                        lambda *a, **k: scans.append(a) or original(*a, **k))
    first, image_root = load_labeled_images(root)
    again, _ = load_labeled_images(root)
    assert len(scans) == 1 and again == first and again is not first
    assert load_labeled_images(root, seed=1)[0] != first and len(scans) == 2  # other args
    with open(os.path.join(root, 'labels.csv'), 'a', encoding='utf-8') as f:
        f.write('spot_9.png,spot\n')
    changed, _ = load_labeled_images(root)
    assert len(scans) == 3 and len(changed) == len(first) + 1
    assert image_root == os.path.join(root, 'images')
