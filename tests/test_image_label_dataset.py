import os

import numpy as np
import pytest

from conftest import grey_image, write_image, write_labels
from ppdet_wsd.data.image_label_dataset import ImageLabelDataSet
from ppdet_wsd.data.labels import DatasetError


def _dataset(root, **kwargs):
    dataset = ImageLabelDataSet(dataset_dir=root, **kwargs)
    dataset.check_or_download_dataset()
    dataset.parse_dataset()
    return dataset


def test_records_of_the_synthetic_dataset(tiny_dataset):
    train = _dataset(tiny_dataset, split='train')
    assert train.classes == ['crack', 'scratch', 'spot']
    labels = np.stack([r['img_label'] for r in train.roidbs])
    assert labels.dtype == np.float32 and labels.shape[1] == 3
    assert (labels.sum(1) == 0).sum() > 0, 'good images are kept as all-zero negatives'
    assert all(r['h'] == 64 and r['w'] == 64 and os.path.isfile(r['im_file'])
               for r in train.roidbs)
    every = _dataset(tiny_dataset, split=None)
    assert len(every.roidbs) == 30


def test_never_reads_boxes_or_masks(tiny_dataset, tmp_path):
    root = tmp_path / 'copy'
    os.symlink(os.path.join(tiny_dataset, 'images'), root / 'images'
               if root.mkdir() is None else None)
    for name in ('labels.csv', 'splits.csv'):
        os.symlink(os.path.join(tiny_dataset, name), root / name)
    (root / 'annotations.json').write_text('{ not json')  # would fail if read
    (root / 'masks').mkdir()
    assert len(_dataset(str(root), split=None).roidbs) == 30


def test_multi_label_rows(tmp_path):
    root = str(tmp_path)
    for name in 'abc':
        write_image(os.path.join(root, 'images', f'{name}.png'), grey_image())
    write_labels(root, ['a.png,good', 'b.png,spot;crack', 'c.png,spot'])
    dataset = _dataset(root, split=None)
    assert dataset.classes == ['crack', 'spot']
    assert [r['img_label'].tolist() for r in dataset.roidbs] == [[0, 0], [1, 1], [0, 1]]


def test_missing_and_unreadable_images_are_skipped_and_counted(tmp_path, caplog):
    root = str(tmp_path)
    write_image(os.path.join(root, 'images', 'ok.png'), grey_image())
    write_image(os.path.join(root, 'images', 'grey16.png'), np.full((8, 8), 60000, np.uint16))
    with open(os.path.join(root, 'images', 'broken.png'), 'wb') as f:
        f.write(b'garbage')
    write_labels(root, ['ok.png,crack', 'grey16.png,good', 'broken.png,crack', 'gone.png,good'])
    dataset = _dataset(root, split=None)
    assert [os.path.basename(r['im_file']) for r in dataset.roidbs] == ['ok.png', 'grey16.png']
    skipped = {os.path.basename(p): why for p, why in dataset.skipped}
    assert set(skipped) == {'broken.png', 'gone.png'}
    assert 'not found' in skipped['gone.png'] and 'not a readable image' in skipped['broken.png']


def test_label_outside_configured_classes_names_the_file(tmp_path):
    root = str(tmp_path)
    write_image(os.path.join(root, 'images', 'x.png'), grey_image())
    write_labels(root, ['x.png,dent'])
    with pytest.raises(DatasetError, match=r'labels.csv: "x.png" has label\(s\) \[.dent.\]'):
        _dataset(root, split=None, classes=['crack'])


def test_empty_split_and_all_good_are_errors(tmp_path):
    root = str(tmp_path)
    write_image(os.path.join(root, 'images', 'x.png'), grey_image())
    write_labels(root, ['x.png,crack'])
    with open(os.path.join(root, 'splits.csv'), 'w') as f:
        f.write('file,split\nx.png,train\n')
    with pytest.raises(DatasetError, match='no usable image in split "test"'):
        _dataset(root, split='test')
    write_labels(root, ['x.png,good'])
    with pytest.raises(DatasetError, match='every image is labelled good'):
        _dataset(root, split=None)


def test_unknown_split_name_and_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match='split must be one of'):
        ImageLabelDataSet(dataset_dir=str(tmp_path), split='training')
    with pytest.raises(DatasetError, match='dataset folder not found'):
        ImageLabelDataSet(dataset_dir=str(tmp_path / 'coco')).check_or_download_dataset()


def test_registered_where_ppdet_looks():
    import ppdet.data.source
    import ppdet.data.transform
    from ppdet.core.workspace import global_config
    assert ppdet.data.source.ImageLabelDataSet is ImageLabelDataSet
    assert 'ImageLabelDataSet' in global_config
    assert hasattr(ppdet.data.transform, 'DecodeImage')
