"""Shared fixtures: tiny synthetic datasets written into pytest's tmp folders."""
import os

import cv2
import numpy as np
import pytest

import ppdet_wsd  # noqa: F401  (registers the plugin before any config is read)
from ppdet_wsd.demo.synthetic import make_defect_dataset

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def weights_cache(tmp_path_factory, monkeypatch):
    """Converted weights go to one per-session folder, never into the home dir."""
    cache = tmp_path_factory.getbasetemp() / 'weights-cache'
    monkeypatch.setenv('PPDET_WSD_CACHE', str(cache))
    return cache


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory):
    """A 64 px synthetic dataset: 12 good, 6 each of scratch/spot/crack, 60/20/20 split."""
    root = str(tmp_path_factory.mktemp('tiny') / 'data')
    make_defect_dataset(root, {'good': 12, 'scratch': 6, 'spot': 6, 'crack': 6},
                        image_size=64, seed=3)
    return root


@pytest.fixture(scope='session')
def tiny_evidence(tiny_dataset, tmp_path_factory):
    """The stage-1 evidence model fitted on ``tiny_dataset`` (deploy_fixture)."""
    from deploy_fixture import fit_tiny_evidence
    return fit_tiny_evidence(tiny_dataset, str(tmp_path_factory.mktemp('evidence_features')))


def write_image(path, image):
    """Write ``image`` (any dtype/channels cv2 accepts) to ``path``; returns ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, image)
    return path


def write_labels(root, rows, header='file,label'):
    """Write ``labels.csv`` with ``rows`` (strings) under ``root``; returns its path."""
    path = os.path.join(root, 'labels.csv')
    with open(path, 'w') as f:
        f.write('\n'.join([header] + rows) + '\n')
    return path


def grey_image(size=32, value=128):
    return np.full((size, size), value, dtype=np.uint8)
