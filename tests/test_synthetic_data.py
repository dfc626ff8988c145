"""The synthetic defect-dataset generator writes a consistent standard-layout dataset."""
import csv
import json
import os
import subprocess
import sys
from collections import Counter

import cv2
import numpy as np
import pytest

from ppdet_wsd.demo.synthetic import make_defect_dataset

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTS = {'good': 8, 'scratch': 6, 'spot': 6, 'crack': 6}


def read_csv(path):
    """Rows of a two-column CSV after its header, as a dict ``first -> second``."""
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    return rows[0], dict(rows[1:])


def read_dataset(root):
    """``(labels, splits, coco)`` of a dataset folder."""
    labels_header, labels = read_csv(os.path.join(root, 'labels.csv'))
    splits_header, splits = read_csv(os.path.join(root, 'splits.csv'))
    assert labels_header == ['file', 'label'] and splits_header == ['file', 'split']
    with open(os.path.join(root, 'annotations.json')) as f:
        coco = json.load(f)
    return labels, splits, coco


def read_mask(root, file):
    """The bool mask of image ``file``."""
    stem = os.path.splitext(file)[0]
    mask = cv2.imread(os.path.join(root, 'masks', f'{stem}.png'), cv2.IMREAD_UNCHANGED)
    assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255}
    return mask > 0


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    """A small colour dataset with variable sizes and some two-class images."""
    root = str(tmp_path_factory.mktemp('synthetic'))
    summary = make_defect_dataset(root, COUNTS, image_size=((64, 112), (72, 128)), seed=3,
                                  multi_label_fraction=0.34, max_instances=3)
    return root, summary


def test_layout_exists(dataset):
    root, summary = dataset
    labels, _, _ = read_dataset(root)
    assert sorted(os.listdir(os.path.join(root, 'images'))) == sorted(labels)
    assert sorted(os.listdir(os.path.join(root, 'masks'))) == sorted(labels)
    assert summary['num_images'] == len(labels) == sum(COUNTS.values())
    assert summary['categories'] == ['crack', 'scratch', 'spot']


def test_labels_and_splits_are_consistent(dataset):
    root, summary = dataset
    labels, splits, coco = read_dataset(root)
    assert set(splits) == set(labels)
    assert set(splits.values()) == {'train', 'val', 'test'}
    assert summary['labels'] == dict(Counter(labels.values()))
    assert summary['splits'] == dict(Counter(splits.values()))
    shown = Counter(name for label in labels.values() for name in label.split(';'))
    assert shown['good'] == COUNTS['good']
    assert all(shown[name] >= COUNTS[name] for name in summary['categories'])
    for label in labels.values():
        names = label.split(';')
        assert names == sorted(set(names)) and (label == 'good' or 'good' not in names)
    per_label = {}
    for file, label in labels.items():
        per_label.setdefault(label, Counter())[splits[file]] += 1
    for label, counts in per_label.items():  # 60/20/20 within every label
        total = sum(counts.values())
        assert abs(counts['train'] - 0.6 * total) < 1, (label, counts)
    assert {image['file_name']: image['label'] for image in coco['images']} == labels


def test_boxes_lie_inside_images_and_fit_the_masks(dataset):
    root, _ = dataset
    labels, _, coco = read_dataset(root)
    assert [c['name'] for c in coco['categories']] == ['crack', 'scratch', 'spot']
    assert [c['id'] for c in coco['categories']] == [1, 2, 3]
    names = {c['id']: c['name'] for c in coco['categories']}
    images = {image['id']: image for image in coco['images']}
    boxes = {}
    for ann in coco['annotations']:
        boxes.setdefault(ann['image_id'], []).append(ann)
    assert len({ann['id'] for ann in coco['annotations']}) == len(coco['annotations'])
    for image_id, image in images.items():
        pixels = cv2.imread(os.path.join(root, 'images', image['file_name']))
        assert pixels.shape[:2] == (image['height'], image['width'])
        mask = read_mask(root, image['file_name'])
        covered = np.zeros_like(mask)
        for ann in boxes.get(image_id, []):
            x, y, w, h = (int(v) for v in ann['bbox'])
            assert ann['bbox'] == [x, y, w, h] and ann['iscrowd'] == 0
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1
            assert x + w <= image['width'] and y + h <= image['height']
            assert names[ann['category_id']] in labels[image['file_name']].split(';')
            crop = mask[y:y + h, x:x + w]
            assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
            assert 0 < ann['area'] <= crop.sum()
            covered[y:y + h, x:x + w] = True
        assert not (mask & ~covered).any(), image['file_name']


def test_good_images_have_no_boxes_and_empty_masks(dataset):
    root, _ = dataset
    labels, _, coco = read_dataset(root)
    boxed = Counter(ann['image_id'] for ann in coco['annotations'])
    for image in coco['images']:
        mask = read_mask(root, image['file_name'])
        if labels[image['file_name']] == 'good':
            assert boxed[image['id']] == 0 and not mask.any()
        else:
            classes = labels[image['file_name']].split(';')
            assert len(classes) <= boxed[image['id']] <= 3 * len(classes)
            assert mask.any()


def test_good_images_are_textured_not_flat(dataset):
    root, _ = dataset
    labels, _, _ = read_dataset(root)
    for file in (f for f, label in labels.items() if label == 'good'):
        grey = cv2.imread(os.path.join(root, 'images', file), cv2.IMREAD_GRAYSCALE)
        assert grey.std() > 2.0 and 20 < grey.mean() < 235


def test_multi_label_rows_appear_only_when_requested(dataset, tmp_path):
    labels, _, coco = read_dataset(dataset[0])
    multi = {f for f, label in labels.items() if ';' in label}
    assert multi and all(len(labels[f].split(';')) == 2 for f in multi)
    names = {c['id']: c['name'] for c in coco['categories']}
    ids = {image['file_name']: image['id'] for image in coco['images']}
    for file in multi:
        drawn = {names[a['category_id']] for a in coco['annotations'] if a['image_id'] == ids[file]}
        assert drawn == set(labels[file].split(';'))
    make_defect_dataset(str(tmp_path), COUNTS, image_size=64, seed=3)
    single, _, _ = read_dataset(str(tmp_path))
    assert not any(';' in label for label in single.values())


def test_same_seed_gives_identical_files(tmp_path):
    def snapshot(root):
        files = {}
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, 'rb') as f:
                    files[os.path.relpath(path, root)] = f.read()
        return files

    counts = {'good': 3, 'scratch': 3, 'crack': 3}
    first, second, other = (str(tmp_path / name) for name in ('a', 'b', 'c'))
    make_defect_dataset(first, counts, image_size=64, seed=7, multi_label_fraction=0.5)
    make_defect_dataset(second, counts, image_size=64, seed=7, multi_label_fraction=0.5)
    make_defect_dataset(other, counts, image_size=64, seed=8, multi_label_fraction=0.5)
    assert snapshot(first) == snapshot(second)
    assert snapshot(first)['images/good_0000.png'] != snapshot(other)['images/good_0000.png']
    assert not [name for name in os.listdir(first) if name.startswith('.tmp_')]


def test_grey_fixed_size_and_stain_class(tmp_path):
    summary = make_defect_dataset(str(tmp_path), {'good': 2, 'stain': 3}, image_size=(48, 80),
                                  grey=True)
    labels, _, coco = read_dataset(str(tmp_path))
    assert summary['categories'] == ['stain'] and len(coco['annotations']) >= 3
    for file in labels:
        image = cv2.imread(os.path.join(str(tmp_path), 'images', file), cv2.IMREAD_UNCHANGED)
        assert image.shape == (48, 80) and image.dtype == np.uint8


def test_bad_arguments_and_existing_data_are_refused(tmp_path):
    root = str(tmp_path)
    with pytest.raises(ValueError, match='bogus'):
        make_defect_dataset(root, {'good': 1, 'bogus': 1})
    with pytest.raises(ValueError, match='32 px'):
        make_defect_dataset(root, {'good': 1}, image_size=((16, 64), (64, 64)))
    with pytest.raises(ValueError, match='two defect classes'):
        make_defect_dataset(root, {'good': 1, 'spot': 2}, multi_label_fraction=0.5)
    make_defect_dataset(root, {'good': 2, 'spot': 2}, image_size=32)
    with pytest.raises(FileExistsError, match='overwrite'):
        make_defect_dataset(root, {'good': 1, 'spot': 1}, image_size=32)
    make_defect_dataset(root, {'good': 1, 'spot': 1}, image_size=32, overwrite=True)
    labels, _, _ = read_dataset(root)
    assert sorted(os.listdir(os.path.join(root, 'images'))) == sorted(labels)
    assert sorted(os.listdir(os.path.join(root, 'masks'))) == sorted(labels)


def test_cli_writes_a_dataset(tmp_path):
    output = str(tmp_path / 'demo')
    script = os.path.join(REPO_ROOT, 'tools', 'make_demo_data.py')
    result = subprocess.run([sys.executable, script, '--output', output, '--per-class', '2',
                             '--good', '3', '--size', '48:64', '--seed', '1'],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = result.stdout[result.stdout.index('{'):]  # ppdet prints warnings first
    assert json.loads(summary)['num_images'] == 9
    labels, _, _ = read_dataset(output)
    assert Counter(labels.values()) == {'good': 3, 'scratch': 2, 'spot': 2, 'crack': 2}


def test_cli_reports_bad_arguments_in_one_line(tmp_path):
    script = os.path.join(REPO_ROOT, 'tools', 'make_demo_data.py')
    result = subprocess.run([sys.executable, script, '--output', str(tmp_path / 'd'),
                             '--good', '-1'], capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith('error: num_per_class')
