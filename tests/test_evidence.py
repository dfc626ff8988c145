"""Patch evidence (stages 1-2): geometry, feature cache, patch MIL, normality bank,
calibration, region boxes and the saved model, on tiny hand-made data."""
import os

import numpy as np
import pytest

from ppdet_wsd.evidence.calibration import fit_levels
from ppdet_wsd.evidence.features import ImageFeatures
from ppdet_wsd.evidence.fit import calibrate
from ppdet_wsd.evidence.geometry import choose_short_side
from ppdet_wsd.evidence.image_probe import ImageProbe
from ppdet_wsd.evidence.model import EvidenceModel
from ppdet_wsd.evidence.normality import NormalityBank
from ppdet_wsd_runtime.evidence_maps import EDGE_RINGS, edge_cells, edge_rings, position_scaled
from ppdet_wsd.evidence.patch_mil import PatchMIL, top_k_count
from ppdet_wsd_runtime.evidence_input import InputGeometry, patch_descriptors
from ppdet_wsd.evidence.settings import PatchEvidence
from ppdet_wsd.evidence.store import FeatureStore
from ppdet_wsd.pseudo.regions import group_fragments, region_boxes


# ----------------------------------------------------------------------------- geometry

def test_geometry_keeps_the_aspect_ratio_and_caps_the_long_side():
    g = InputGeometry(320, max_long_side=1024)
    assert g.resized_size(200, 500) == (320, 800)
    assert g.resized_size(100, 1000) == (102, 1024)      # long part: the cap wins
    x, resized = g.prepare(np.zeros((200, 500, 3), np.uint8))
    assert resized == (320, 800)
    assert x.shape == (3, 384, 864)                        # + 2 x 32 border, multiple of 32
    assert np.allclose(x, -127 / 128)


def test_geometry_crop_returns_the_cells_over_the_resized_image():
    g = InputGeometry(64, border=32)
    feature = np.arange(1 * 20 * 30).reshape(1, 20, 30)
    cropped = g.crop(feature, 8, (70, 100))
    assert cropped.shape == (1, 9, 13)
    assert cropped[0, 0, 0] == feature[0, 4, 4]


def test_choose_short_side_follows_the_images_within_bounds():
    assert choose_short_side(np.array([[200, 300], [250, 900], [640, 480]])) == 320
    assert choose_short_side(np.array([[420, 600]] * 3)) == 416
    assert choose_short_side(np.array([[2000, 3000]])) == 448


def test_patch_descriptors_align_the_coarse_map_and_average_neighbours():
    fine = np.zeros((1, 4, 4), np.float32)
    coarse = np.ones((1, 2, 2), np.float32)
    coarse[0, 0, 0] = 5.0
    desc = patch_descriptors(fine, coarse, context=1)
    assert desc.shape == (4, 4, 2)
    assert desc[0, 0, 1] == pytest.approx(5.0) and desc[3, 3, 1] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- cache

def test_feature_store_computes_once_and_a_changed_file_misses(tmp_path):
    import cv2
    image = tmp_path / 'a.png'
    cv2.imwrite(str(image), np.full((8, 8), 100, np.uint8))
    calls = []

    def extractor(rgb):
        calls.append(rgb.shape)
        return ImageFeatures(np.full((1, 1, 2), rgb.mean(), np.float16),
                             np.zeros(3, np.float32), rgb.shape[:2])

    store = FeatureStore(str(tmp_path / 'cache'), {'size': 1}, lambda: extractor)
    first = store.get(str(image))
    again = FeatureStore(str(tmp_path / 'cache'), {'size': 1}, lambda: extractor).get(str(image))
    assert len(calls) == 1 and again.image_hw == (8, 8)
    assert again.patches[0, 0, 0] == first.patches[0, 0, 0] == 100
    FeatureStore(str(tmp_path / 'cache'), {'size': 2}, lambda: extractor).get(str(image))
    assert len(calls) == 2                                # other settings: another entry
    cv2.imwrite(str(image), np.full((8, 8), 50, np.uint8))
    assert store.get(str(image)).patches[0, 0, 0] == 50   # other bytes: another entry
    leftovers = [n for _, _, names in os.walk(tmp_path / 'cache') for n in names
                 if n.startswith('.tmp-')]
    assert not leftovers


# ----------------------------------------------------------------------------- models

def _bags(rng, num, positive):
    """Bags of 50 2-D patches; a positive bag hides 2 patches at (4, 4)."""
    bags = []
    for _ in range(num):
        bag = rng.normal(0, 1, (50, 2)).astype(np.float32)
        if positive:
            bag[:2] = 4.0
        bags.append(bag)
    return bags


def test_patch_mil_finds_the_planted_patches():
    rng = np.random.default_rng(0)
    bags = _bags(rng, 30, True) + _bags(rng, 30, False)
    labels = np.array([[1.0]] * 30 + [[0.0]] * 30)
    mil = PatchMIL(top_fraction=0.04, epochs=30, learning_rate=0.05).fit(bags, labels)
    planted = mil.logits(np.array([[4.0, 4.0]]))[0, 0]
    ordinary = mil.logits(rng.normal(0, 1, (200, 2)))[:, 0]
    assert planted > 2.0 and planted > ordinary.max()
    assert top_k_count(50, 0.04) == 2 and top_k_count(3, 0.01) == 1
    again = PatchMIL(top_fraction=0.04, epochs=30, learning_rate=0.05).fit(bags, labels)
    assert np.array_equal(again.weight, mil.weight)       # same seed, same model


def test_normality_bank_is_zero_on_its_own_patches_and_far_from_outliers():
    good = [np.zeros((2, 2, 3), np.float32), np.ones((2, 2, 3), np.float32)]
    bank = NormalityBank(max_patches=100).fit(good)
    assert bank.bank.shape == (8, 3)
    query = np.array([[[0, 0, 0], [1, 1, 1]], [[3, 1, 1], [0, 0, 1]]], np.float32)
    assert np.allclose(bank.distances(query), [[0, 0], [2, 1]])
    assert len(NormalityBank(max_patches=5, seed=1).fit(good).bank) == 5


def test_edge_rings_count_cells_to_the_nearest_edge():
    assert edge_rings((5, 6)).tolist() == [[0, 0, 0, 0, 0, 0],
                                          [0, 1, 1, 1, 1, 0],
                                          [0, 1, 2, 2, 1, 0],
                                          [0, 1, 1, 1, 1, 0],
                                          [0, 0, 0, 0, 0, 0]]
    assert edge_rings((12, 12)).max() == EDGE_RINGS and edge_rings((1, 3)).tolist() == [[0, 0, 0]]


def _ring_grid(rows, cols):
    """A grid whose one-value descriptor is the cell's edge ring."""
    return edge_rings((rows, cols))[..., None].astype(np.float32)


def test_normality_bank_draws_its_edge_share_from_cells_near_the_edge():
    grids = [_ring_grid(8, 8)] * 3     # 48 edge cells (ring 0-1), 16 inside cells each
    rings = np.sort(NormalityBank(max_patches=20, edge_share=0.5).fit(grids).bank[:, 0])
    assert (rings < 2).sum() == 10 and (rings >= 2).sum() == 10
    uniform = NormalityBank(max_patches=20, edge_share=None).fit(grids).bank[:, 0]
    assert (uniform < 2).sum() == 15   # their area's share, 48 / 64
    inside_only = NormalityBank(max_patches=60, edge_share=0.0).fit(grids).bank[:, 0]
    assert (inside_only >= 2).sum() == 48 and len(inside_only) == 60  # the pool ran out


def test_edge_cells_count_rows_and_columns_to_the_nearest_edge_apart():
    row, col = edge_cells((5, 6))
    assert row.tolist() == [[0] * 6, [1] * 6, [2] * 6, [1] * 6, [0] * 6]
    assert col.tolist() == [[0, 1, 2, 2, 1, 0]] * 5
    row, col = edge_cells((12, 3))
    assert row.max() == EDGE_RINGS and col.tolist() == [[0, 1, 0]] * 12


def test_normality_scaled_by_the_good_distance_at_each_position_from_the_edges():
    bank = NormalityBank(max_patches=10).fit([np.zeros((3, 3, 1), np.float32)])
    held_out = np.full((9, 11, 1), 2.0, np.float32)
    held_out[edge_rings((9, 11)) == 0] = 6.0            # good edges lie farther out
    held_out[[0, 0, -1, -1], [0, -1, 0, -1]] = 9.0      # and corners farther still
    bank.fit_positions([bank.raw_distances(held_out)])
    expected = np.full((EDGE_RINGS + 1,) * 2, 2.0)
    expected[0, :] = expected[:, 0] = 6.0
    expected[0, 0] = 9.0
    np.testing.assert_allclose(bank.ring_scale, expected)
    assert np.allclose(bank.distances(held_out), 1.0)
    assert np.allclose(bank.raw_distances(held_out)[0, 0], 9.0)
    assert np.allclose(position_scaled(np.full((2, 2), 18.0), bank.ring_scale), 2.0)
    one_ring = NormalityBank(max_patches=10).fit([np.zeros((3, 3, 1), np.float32)])
    one_ring.fit_positions([np.full((3, 3), 4.0, np.float32)])  # reaches rings 0-1 only
    assert np.allclose(one_ring.ring_scale, 4.0)                # the others take their mean


def test_image_probe_separates_and_keeps_a_constant_class_at_its_prior():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (20, 3)), rng.normal(3, 1, (20, 3))])
    y = np.stack([np.r_[np.zeros(20), np.ones(20)], np.zeros(40)], axis=1)
    probe = ImageProbe().fit(x, y)
    s = probe.scores(x)
    assert s[20:, 0].min() > s[:20, 0].max()
    assert np.allclose(s[:, 1], 1e-3, atol=1e-6)
    back = ImageProbe.load(probe.state())
    assert np.allclose(back.scores(x), s)


# ----------------------------------------------------------------------------- levels

def test_levels_come_from_the_negatives_maxima():
    maps = [np.full((2, 2), v, np.float32) for v in (1.0, 2.0, 3.0, 4.0, 5.0)]
    levels = fit_levels(maps, quantile=0.75)
    assert levels.level == pytest.approx(4.0)
    assert levels.background == pytest.approx(3.0) and levels.centre == pytest.approx(3.0)
    assert levels.spread == pytest.approx(1.4826)
    assert levels.score(3.0) == pytest.approx(0.5)
    assert levels.score(3.0 + 1.4826) == pytest.approx(0.75)
    assert levels.score(6.0) > levels.score(4.0) > 0.5 > levels.score(2.0)
    # far above the negatives, stronger peaks still score higher (a normal CDF ties at 1.0)
    assert 1.0 > levels.score(3.0 + 1.4826e6) > levels.score(3.0 + 1.4826e5) > 0.9999
    few = fit_levels(maps[:3])
    assert few.level is None and few.negatives == 3
    assert fit_levels([]).negatives == 0


# ----------------------------------------------------------------------------- regions

def _two_blobs():
    heat = np.zeros((40, 60), np.float32)
    heat[5:10, 5:20] = 1.0
    heat[7, 12] = 2.0          # strong blob, peak 2
    heat[25:35, 40:45] = 0.6   # faint blob, peak 0.6
    return heat


def test_region_boxes_cut_each_region_by_its_own_peak():
    heat = _two_blobs()
    regions = region_boxes(heat, level=0.5, background=0.0, extent=0.4)
    assert [peak for _, peak in regions] == [2.0, pytest.approx(0.6)]
    assert regions[0][0].tolist() == [5, 5, 20, 10]
    assert regions[1][0].tolist() == [40, 25, 45, 35]
    strong_core = region_boxes(heat, level=0.5, background=0.0, extent=0.6)[0][0]
    assert strong_core.tolist() == [12, 7, 13, 8]          # above 1.2: the peak pixel only


def test_region_boxes_need_the_level_unless_always():
    heat = _two_blobs()
    assert [p for _, p in region_boxes(heat, 1.5, 0.0)] == [2.0]
    assert region_boxes(heat, 3.0, 0.0) == []
    fallback = region_boxes(heat, 3.0, 0.0, always=True)
    assert len(fallback) == 1 and fallback[0][1] == 2.0
    assert region_boxes(np.full((4, 4), np.nan), 0.5, 0.0, always=True) == []
    assert region_boxes(np.zeros((0, 0)), 0.5, 0.0) == []


# ----------------------------------------------------------------------------- model

def _tiny_model(heat_map='fused'):
    """Two classes; the patch classifier says "spot" where feature 0 is high and "scratch"
    where feature 1 is; the good surface is all-zero patches."""
    rng = np.random.default_rng(0)
    mil = PatchMIL()
    mil.weight = np.array([[3.0, 0.0], [0.0, 3.0]], np.float32)
    mil.bias = np.array([-3.0, -3.0], np.float32)
    probe = ImageProbe().fit(rng.normal(size=(10, 2)), np.stack([np.r_[np.zeros(5), np.ones(5)],
                                                                 np.r_[np.ones(5), np.zeros(5)]], 1))
    bank = NormalityBank().fit([np.zeros((2, 3, 2), np.float32)])
    settings = vars(PatchEvidence(heat_map=heat_map))
    model = EvidenceModel(['spot', 'scratch'], heat_map, settings, {'short_side': 64},
                          np.zeros(2, np.float32), np.ones(2, np.float32), probe, mil, bank)
    model.levels = calibrate(model, [(ImageFeatures(np.zeros((8, 10, 2), np.float16),
                                                    np.zeros(2, np.float32), (80, 100)),
                                      np.zeros(2, np.float32))] * 5)
    return model


def _odd_image():
    patches = np.zeros((8, 10, 2), np.float16)
    patches[2:4, 6:8, 0] = 2.0                   # spot-like: logit 3, distance 2
    patches[6, 1, 1] = 1.0                       # scratch-like: logit 0, distance 1
    return ImageFeatures(patches, np.zeros(2, np.float32), (80, 100))


def test_fused_maps_give_each_cell_to_the_likeliest_candidate_class():
    model, features = _tiny_model(), _odd_image()
    maps = model.maps(features)
    assert maps.shape == (2, 8, 10)
    assert maps[0, 2, 6] == pytest.approx(2.0) and maps[1, 2, 6] == 0.0
    assert maps[1, 6, 1] == pytest.approx(1.0) and maps[0, 6, 1] == 0.0
    only_spot = model.maps(features, candidates=[0])
    assert only_spot[0, 6, 1] == pytest.approx(1.0) and not only_spot[1].any()
    assert set(model.levels) == {'*'} and model.levels['*'].level == 0.0


def test_evidence_model_boxes_where_the_surface_is_odd_and_names_the_class(tmp_path):
    model, features = _tiny_model(), _odd_image()
    _, boxes = model.evidence(features, boxed=[0, 1])
    assert [b['class'] for b in boxes] == ['spot', 'scratch']
    assert all(b['above_level'] for b in boxes) and boxes[0]['peak'] > boxes[1]['peak']
    x1, y1, x2, y2 = boxes[0]['box']
    assert 55 <= x1 < x2 <= 85 and 15 <= y1 < y2 <= 45
    model.save(str(tmp_path))
    back = EvidenceModel.load(str(tmp_path))
    assert back.evidence(features, boxed=[0, 1])[1] == boxes
    assert np.allclose(back.image_scores(features), model.image_scores(features))
    with pytest.raises(FileNotFoundError, match='no fitted evidence model'):
        EvidenceModel.load(str(tmp_path / 'missing'))


def test_a_mil_model_cuts_each_class_map_at_its_own_level():
    model, features = _tiny_model('mil'), _odd_image()
    assert set(model.levels) == {'spot', 'scratch'}   # mil maps are not grouped
    maps, boxes = model.evidence(features, boxed=[0])
    assert maps[0, 2, 6] == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert [b['class'] for b in boxes] == ['spot'] and boxes[0]['above_level']


def test_group_fragments_joins_what_one_coarse_region_holds():
    box = lambda *v: np.array(v, np.float32)  # noqa: E731
    fine = [(box(10, 10, 14, 14), 5.0), (box(20, 10, 24, 14), 4.0), (box(60, 60, 64, 64), 3.0),
            (box(90, 10, 94, 14), 2.0)]
    coarse = [(box(5, 5, 30, 20), 1.0),      # holds the first two: joined, peak 5
              (box(55, 55, 70, 70), 0.9),    # holds one: it stays as it is
              (box(0, 80, 40, 99), 0.8)]     # holds none: adds nothing
    grouped = group_fragments(fine, coarse)
    assert [(b.tolist(), p) for b, p in grouped] == [([5, 5, 30, 20], 5.0), ([60, 60, 64, 64], 3.0),
                                                     ([90, 10, 94, 14], 2.0)]
    assert group_fragments(fine, []) == fine


def _fragmented_image():
    patches = np.zeros((8, 12, 2), np.float16)
    patches[3, 3, 0] = patches[3, 6, 0] = 2.0     # two spots three cells apart
    return ImageFeatures(patches, np.zeros(2, np.float32), (80, 120))


def test_a_coarse_map_joins_the_fragments_of_one_defect(tmp_path):
    from ppdet_wsd.evidence.grouping import coarse_descriptors
    model = _tiny_model()
    model.group_bank = NormalityBank().fit([coarse_descriptors(np.zeros((2, 3, 2)), 5)])
    good = (ImageFeatures(np.zeros((8, 12, 2), np.float16), np.zeros(2, np.float32), (80, 120)),
            np.zeros(2, np.float32))
    model.levels = calibrate(model, [good] * 5)
    assert set(model.levels) == {'*', 'grouping/*'}
    boxes = model.evidence(_fragmented_image(), boxed=[0])[1]
    # one box: the coarse region's, cut half-way down its own profile
    assert [b['box'] for b in boxes] == [[35.0, 10.0, 65.0, 60.0]]
    model.save(str(tmp_path))
    assert EvidenceModel.load(str(tmp_path)).evidence(_fragmented_image(), boxed=[0])[1] == boxes
    model.settings['group_cells'] = 0
    apart = model.evidence(_fragmented_image(), boxed=[0])[1]
    assert [b['box'] for b in apart] == [[30.0, 30.0, 40.0, 40.0], [60.0, 30.0, 70.0, 40.0]]
    assert boxes[0]['peak'] == max(b['peak'] for b in apart)   # the strongest fragment's


def test_a_mil_model_keeps_separate_fragments_apart():
    model = _tiny_model('mil')
    assert model.group_cells == 5
    boxes = model.evidence(_fragmented_image(), boxed=[0])[1]
    assert [b['box'] for b in boxes] == [[30.0, 30.0, 40.0, 40.0], [60.0, 30.0, 70.0, 40.0]]


def test_settings_reject_unknown_maps():
    with pytest.raises(ValueError, match='heat_map must be one of'):
        PatchEvidence(heat_map='cam')


# ----------------------------------------------------------------------------- tightening

def test_tighten_box_shrinks_to_the_contrasting_pixels_within_the_blur():
    from ppdet_wsd_runtime.contrast import tighten_box
    grey = np.full((60, 60), 120.0)
    grey[28:33, 30:36] = 40.0                                   # a dark 6x5 spot
    assert tighten_box(grey, [20, 20, 46, 42]) == [30, 28, 36, 33]
    assert tighten_box(grey, [20, 20, 46, 42], max_shrink=4) == [24, 24, 42, 38]
    assert tighten_box(np.full((60, 60), 120.0), [20, 20, 46, 42]) == [20, 20, 46, 42]
    full = grey.copy()
    full[20:42, 20:46] = 40.0                                   # the defect fills the box
    assert tighten_box(full, [20, 20, 46, 42]) == [20, 20, 46, 42]


def _noisy_surface(seed=0):
    """A 120x120 grey surface with mild noise (robust spread ~4 grey levels)."""
    return 120.0 + np.random.default_rng(seed).normal(0.0, 4.0, (120, 120))


def test_grow_line_box_follows_a_thin_line_out_of_its_box():
    from ppdet_wsd_runtime.contrast import grow_line_box
    grey = _noisy_surface()
    grey[10:110, 60:62] = 60.0                   # a 2-px crack, 100 px long
    # the map lit a stretch of it: the box grows to the whole line within 2 box sides
    assert grow_line_box(grey, [56, 50, 66, 60]) == [56.0, 30.0, 66.0, 80.0]
    assert grow_line_box(grey, [56, 50, 66, 60], reach=6.0) == [56.0, 10.0, 66.0, 110.0]


def test_grow_line_box_keeps_blobs_texture_and_plain_surface():
    from ppdet_wsd_runtime.contrast import grow_line_box
    blob = _noisy_surface()
    blob[48:62, 48:62] = 60.0                    # a spot a little larger than its box
    assert grow_line_box(blob, [50, 50, 60, 60], reach=4.0) == [50.0, 50.0, 60.0, 60.0]
    assert grow_line_box(blob, [50, 50, 60, 60], reach=4.0,
                         min_elongation=1.0) == [48.0, 48.0, 62.0, 62.0]  # the shape refused it
    texture = _noisy_surface()
    texture[:, ::3] = 60.0                       # every third column dark: texture
    assert grow_line_box(texture, [50, 50, 60, 60]) == [50.0, 50.0, 60.0, 60.0]
    assert grow_line_box(texture, [50, 50, 60, 60],
                         max_share=0.5) == [50.0, 30.0, 60.0, 80.0]  # the share refused it
    plain = _noisy_surface()
    assert grow_line_box(plain, [50, 50, 60, 60]) == [50.0, 50.0, 60.0, 60.0]


def test_the_runtime_maps_scale_by_the_edge_and_refuse_a_broken_scale():
    from ppdet_wsd_runtime.evidence_maps import EvidenceMaps
    levels = {'*': {'level': 2.0, 'background': 1.0}}
    bank = np.zeros((3, 2), np.float32)
    def maps_with(scale):
        return EvidenceMaps('fused', levels, ['a'], None, bank, scale)

    for bad in ([1.0, 2.0], [1, 1, 1, 1, 0], np.ones((5, 4)), -np.ones((5, 5))):
        with pytest.raises(ValueError, match='ring_scale'):
            maps_with(bad)
    raw = np.full((3, 3), 3 * np.sqrt(2), np.float32)  # distance of every 3.0 descriptor
    table = np.ones((EDGE_RINGS + 1,) * 2, np.float32)
    table[0, 0], table[0, 1] = 3.0, 2.0                # corners; top / bottom edge middles
    distance = maps_with(table).distances(np.full((3, 3, 2), 3.0, np.float32))
    np.testing.assert_allclose(distance, raw / [[3, 2, 3], [1, 1, 1], [3, 2, 3]], rtol=1e-5)
    # an export written with one number per ring: the scale of the nearer edge
    distance = maps_with([2, 1, 1, 1, 1]).distances(np.full((3, 3, 2), 3.0, np.float32))
    np.testing.assert_allclose(distance, raw / np.where(edge_rings((3, 3)) == 0, 2, 1),
                               rtol=1e-5)
    unscaled = EvidenceMaps('fused', levels, ['a'], None, bank).distances(
        np.full((3, 3, 2), 3.0, np.float32))
    np.testing.assert_allclose(unscaled, 3 * np.sqrt(2), rtol=1e-5)


def test_settings_reject_a_negative_good_image_cap():
    with pytest.raises(ValueError, match='max_good_images must be >= 0'):
        PatchEvidence(max_good_images=-1)


# ----------------------------------------------------------------------------- large lines

def test_stage_1_fits_on_every_defective_image_and_a_seeded_sample_of_good_ones():
    from ppdet_wsd.data.labels import LabeledImage
    from ppdet_wsd.pipeline.evidence_stages import fitting_images
    train = [LabeledImage(f'{i}.png', ('crack',) if i % 4 == 0 else (), 'train')
             for i in range(20)]                                 # 5 defective, 15 good
    picked = fitting_images(train, 6, seed=0)
    assert [im.file for im in picked if im.labels] == ['0.png', '4.png', '8.png', '12.png',
                                                       '16.png']
    good = [im.file for im in picked if not im.labels]
    assert len(good) == 6 and good == sorted(good, key=lambda f: int(f[:-4]))  # dataset order
    assert fitting_images(train, 6, seed=0) == picked             # seeded
    assert fitting_images(train, 6, seed=1) != picked
    assert fitting_images(train, 0, seed=0) == train              # 0: every image
    assert fitting_images(train, 15, seed=0) == train


def test_the_fit_computes_features_only_for_the_images_it_uses(tmp_path):
    import glob
    from ppdet_wsd.demo.synthetic import make_defect_dataset
    from ppdet_wsd.pipeline.evidence_stages import fit_model
    root = str(tmp_path / 'data')
    make_defect_dataset(root, {'good': 20, 'spot': 5}, image_size=48, seed=0)
    out = str(tmp_path / 'out')
    model, _ = fit_model(root, out, PatchEvidence(mil_epochs=2, max_good_images=4,
                                                  short_side=64))
    # 12 good + 3 defective training images, 4 + 1 val: 4 good and 3 defective fitted
    assert len(glob.glob(f'{out}/features/*/*.npz')) == 4 + 3 + 5
    assert model.bank.bank.shape == (4 * 8 * 8, 152)               # 4 good images' cells
