"""The work of each pipeline stage, run in a fresh worker process (ppdet's config is
global, so every stage gets a process of its own; see :mod:`ppdet_wsd.pipeline.worker`).

Every function takes the task dict the runner wrote (``stage``, ``stage_dir``,
``output_dir``, ``dataset_dir``, ``config``, ``opts``, ``input_canvas``, ``resume``,
``spec``) and returns a small dict the runner stores in the stage record. Stages 1-2
(patch evidence) live in :mod:`ppdet_wsd.pipeline.evidence_stages`; the detector stages
are here.
Ground truth (``annotations.json``, ``masks/``) is read by ``classifier_eval`` and
``evaluation`` only, to measure.
"""
import glob
import json
import math
import os

from ppdet.core.workspace import create, global_config, merge_config
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.atomic import write_json_atomic
from ppdet_wsd_runtime.predictor import exported_heat_map, exported_speed

from ..data.check_cache import CHECK_CACHE_FILE
from ..data.image_label_dataset import ImageLabelDataSet
from ..deploy.verdict_export import ExportVerdict
from ..engine.commands import (dataset_split, export, fit_to_targets, train, trained_model,
                               val_threshold_and_test)
from ..engine.config import load_config, select_device
from ..engine.prediction.detect import detect_images
from ..engine.training.refinement import refinement_options
from ..evidence.model import EvidenceModel
from ..metrics import verdict_rates
from ..utils.dist import is_main_process, per_process_batch, world_size
from ..visualization.review import choose_review_files
from .adapt import anchor_prior, pseudo_box_shapes, set_input_canvas, step_schedule
from .evidence_stages import (MODEL_DIR, classifier_scores, run_classifier,
                              run_classifier_eval, run_pseudo_boxes)
from .verdict import choose_verdict, source_scores

logger = setup_logger(__name__)
METRICS = 'metrics.json'
ANCHORS = 'anchors.json'
FIT_KEYS = ('det_map50', 'det_map50_95', 'det_map50_agnostic', 'num_images', 'seconds')


def _path(task, stage, *parts):
    return os.path.join(task['output_dir'], stage, *parts)


def stage_config(task, config, opts):
    """Load a stage config into ppdet's global config, pointed at the pipeline's dataset
    (and its dataset check, so no stage decodes an image the check already read), folder
    and input size; a cosine schedule follows the (possibly overridden) epochs."""
    cfg = load_config(config)
    checked = os.path.join(task['output_dir'], CHECK_CACHE_FILE)
    for key in ('TrainDataset', 'EvalDataset'):
        dataset = {'dataset_dir': task['dataset_dir']}
        if _takes_check_cache(cfg.get(key)):
            dataset['check_cache'] = checked  # the dataset stage decoded every image once
        merge_config({key: dataset})
    merge_config(opts or {})
    cfg['filename'] = task['stage']
    cfg['save_dir'] = task['output_dir']
    set_input_canvas(cfg, task['input_canvas'])
    _follow_epochs(cfg)
    select_device(cfg)
    return cfg


def _takes_check_cache(section):
    """True when a dataset section builds an :class:`ImageLabelDataSet` (or a subclass),
    which can read the run's dataset check instead of decoding its images again."""
    schema = global_config.get((section or {}).get('name'))
    source = getattr(getattr(schema, 'pymodule', None), getattr(schema, 'name', ''), None)
    return isinstance(source, type) and issubclass(source, ImageLabelDataSet)


def _follow_epochs(cfg):
    """A cosine schedule ends with ``cfg.epoch``."""
    for scheduler in (cfg.get('LearningRate') or {}).get('schedulers', []):
        if hasattr(scheduler, 'max_epochs'):
            scheduler.max_epochs = cfg.epoch


def apply_step_budget(task, cfg):
    """Set the detector's epochs (and its snapshot and refinement epochs) from the
    pipeline's ``detector.steps`` and the training set's epoch size
    (:func:`step_schedule`), unless there is no budget or the detector opts fix
    ``epoch``. Returns the overrides applied, or None."""
    detector = task['spec']['detector']
    if not detector.get('steps') or 'epoch' in (detector['opts'] or {}):
        return None
    dataset = create('TrainDataset')()
    dataset.parse_dataset()
    per_epoch = max(1, math.ceil(len(dataset) / cfg.TrainReader['batch_size']))
    schedule = step_schedule(detector['steps'], per_epoch, cfg.epoch, cfg.snapshot_epoch,
                             refinement_options(cfg))
    merge_config(schedule)
    _follow_epochs(cfg)
    logger.info(f'{detector["steps"]} steps of {per_epoch} per epoch: {schedule}')
    return schedule


def share_among_processes(cfg):
    """Under ``nproc`` processes, each draws its share of ``TrainReader.batch_size`` (the
    pipeline's batch is per optimiser step, as ``detector.steps`` counts them), so more
    processes train the same schedule faster instead of a different one; each keeps its
    share of the feature cache's memory budget."""
    processes = world_size()
    if processes > 1:
        batch = cfg.TrainReader['batch_size']
        cfg.TrainReader['batch_size'] = per_process_batch(batch, processes)
        arch = cfg[cfg.architecture]
        if arch.get('cache_max_mb'):
            arch['cache_max_mb'] = arch['cache_max_mb'] / processes
        logger.info(f'batch {batch} per step: {cfg.TrainReader["batch_size"]} in each of '
                    f'{processes} processes')


def detector_config(task, weights=True):
    """The detector config (+ opts), trained on the pipeline's pseudo boxes, with the
    anchor prior the detector stage chose; ``model_final`` as weights."""
    spec = task['spec']
    cfg = stage_config(task, spec['detector']['config'], spec['detector']['opts'])
    merge_config({'TrainDataset': {'boxes_file': _path(task, 'pseudo_boxes',
                                                       'pseudo_boxes.json')}})
    anchors = _path(task, 'detector', ANCHORS)
    if os.path.isfile(anchors):
        with open(anchors, encoding='utf-8') as f:
            apply_anchor_prior(cfg, json.load(f))
    if weights:
        cfg['weights'] = _path(task, 'detector', 'model_final')
    return cfg


def _anchor_generator(cfg):
    """The anchor generator section of the detector's head in ``cfg``."""
    return cfg[cfg[cfg.architecture]['head']]['anchor_generator']


def apply_anchor_prior(cfg, prior):
    """Put an :func:`anchor_prior` result into ``cfg`` (when it was ``used``)."""
    if prior['used']:
        _anchor_generator(cfg).update(octave_base_scale=prior['octave_base_scale'],
                                      aspect_ratios=prior['aspect_ratios'])


def latest_snapshot(stage_dir):
    """The newest epoch checkpoint ``<stage_dir>/<n>`` (no suffix), or None."""
    epochs = [int(os.path.basename(p)[:-len('.pdparams')])
              for p in glob.glob(os.path.join(stage_dir, '*.pdparams'))
              if os.path.basename(p)[:-len('.pdparams')].isdigit()]
    return os.path.join(stage_dir, str(max(epochs))) if epochs else None


def _train(task, cfg, validate):
    resume = latest_snapshot(task['stage_dir']) if task['resume'] else None
    if resume:
        logger.info(f'resuming {task["stage"]} from {resume}')
    summary = train(cfg, validate=validate, resume=resume).summary
    if is_main_process():  # epoch snapshots only served a resume
        for path in glob.glob(os.path.join(task['stage_dir'], '[0-9]*.pd*')):
            os.remove(path)
    return {'train_seconds': summary['seconds'], 'epochs': summary['epochs'],
            'num_train_images': summary['num_train_images']}


def _grid_files(split, num):
    """The label-balanced test images the report draws, in dataset order."""
    chosen = choose_review_files(split.roidbs, num)
    return [r['im_file'] for r in split.roidbs if r['im_file'] in chosen]


def run_detector(task):
    """Stage 3: RetinaNet-MIL on the pseudo boxes and image labels, for the pipeline's
    step budget (:func:`apply_step_budget`), with anchors sized from the pseudo boxes
    (``anchors.json``); ``model_final`` after that schedule."""
    cfg = detector_config(task, weights=False)
    apply_step_budget(task, cfg)
    share_among_processes(cfg)
    if task['spec']['detector'].get('adapt_anchors', True):
        # every process derives the same prior from the same file (no waiting on rank 0)
        generator = _anchor_generator(cfg)
        sides, aspects = pseudo_box_shapes(cfg.TrainDataset['boxes_file'], task['input_canvas'])
        prior = anchor_prior(sides, aspects, float(generator['strides'][0]),
                             generator['octave_base_scale'])
        apply_anchor_prior(cfg, prior)
        if is_main_process():
            write_json_atomic(os.path.join(task['stage_dir'], ANCHORS), prior)
        logger.info(f'anchors from {prior["num_boxes"]} pseudo boxes: {prior}')
    return _train(task, cfg, validate=False)


def _verdict(task, val, test, classes, image_root):
    """:func:`choose_verdict` between the detector's and the stage-1 classifier's scores
    of the val and test images (their files relative to ``image_root``)."""
    scores, order = classifier_scores(task['output_dir'], image_root, val['files'] + test['files'])
    if list(order) != list(classes):
        raise ValueError(f'the classifier\'s classes {order} differ from the detector\'s '
                         f'{classes}')
    val_sources = source_scores(val['class_scores'], scores[:len(val['files'])])
    test_sources = source_scores(test['class_scores'], scores[len(val['files']):])
    fixed = task['spec']['evaluation']['threshold']
    return choose_verdict(val['labels'], val_sources, test['labels'], test_sources, classes,
                          None if fixed == 'val' else float(fixed))


def run_evaluation(task):
    """The detector on val and once on test. Two operating points, both from the val
    split's image labels (Youden's J, over (image, class) pairs without good val images)
    unless the pipeline fixes one: the detector's own threshold (exported with it), and
    the pipeline's image verdict, whose source (detector, stage-1 classifier or their
    mean) is the one that separates val best (:mod:`.verdict`). Box mAP on test in the
    dataset's box evaluation mode, and the report's grid images' detections."""
    cfg = detector_config(task)
    cfg['eval_box_mode'] = task['box_mode']
    fixed = task['spec']['evaluation']['threshold']
    val, youden, basis, test = val_threshold_and_test(cfg)
    threshold = youden if fixed == 'val' else float(fixed)
    source = 'val' if fixed == 'val' and threshold is not None else 'fixed'
    if threshold is None:
        threshold = cfg.get('verdict_threshold', 0.5)
    test['threshold_basis'] = basis if source == 'val' else None
    test['at_threshold'] = verdict_rates(test['defective'], test['defect_scores'], threshold)
    test.update(operating_threshold=threshold, threshold_source=source,
                val_image_auroc=val['image_auroc'])
    model, classes = trained_model(cfg)
    split = dataset_split('test')
    test['verdict'] = _verdict(task, val, test, classes, split.image_root)
    fit = fit_to_targets(cfg)
    test['fit_to_targets'] = dict({k: fit.get(k) for k in FIT_KEYS},
                                  per_class_ap50=(fit.get('boxes') or {}).get('per_class_ap50'))
    grid = _grid_files(split, task['spec']['evaluation']['grid_images'])
    detect_images(model, cfg, grid, os.path.join(task['stage_dir'], 'grid'), classes, threshold,
                  save_pictures=False)
    write_json_atomic(os.path.join(task['stage_dir'], METRICS), test)
    return {'threshold': threshold, 'det_map50': test.get('det_map50'),
            'verdict_source': test['verdict']['source']}


def export_config(task):
    """The detector config (:func:`detector_config`) with the operating threshold the
    evaluation stage chose, which the export carries."""
    cfg = detector_config(task)
    with open(_path(task, 'evaluation', METRICS), encoding='utf-8') as f:
        cfg['verdict_threshold'] = json.load(f)['operating_threshold']
    return cfg


def export_verdict(task):
    """The image verdict the evaluation stage chose (source and threshold), as the export
    carries it, with the fitted stage-1 model when the source or the heat maps
    (``export.heat_maps``) need it; None when the evaluation predates the verdict."""
    with open(_path(task, 'evaluation', METRICS), encoding='utf-8') as f:
        verdict = json.load(f).get('verdict')
    if not verdict:
        return None
    heat_maps = bool(task['spec']['export'].get('heat_maps', False))
    evidence = None
    if verdict['source'] != 'detector' or heat_maps:
        evidence = EvidenceModel.load(_path(task, 'classifier', MODEL_DIR))
    return ExportVerdict(verdict['source'], verdict['threshold'], evidence, heat_maps)


def run_export(task):
    """The detector as a static model carrying the operating threshold and the
    pipeline's image verdict (source and threshold; for a ``classifier`` or ``fusion``
    verdict also the stage-1 classifier's backbone and arrays; with ``export.heat_maps``
    the stage-1 heat maps), its size and its speed one image at a time (decoding +
    preprocessing + Paddle Inference with oneDNN + decoding and NMS + the verdict; with
    heat maps also that speed with each image's maps)."""
    cfg = export_config(task)
    verdict = export_verdict(task)
    model_dir = export(cfg, task['stage_dir'], verdict=verdict)
    paths = [r['im_file'] for r in dataset_split('test').roidbs]
    paths = paths[:task['spec']['export']['speed_images']]
    size_mb, ips = exported_speed(model_dir, paths)
    result = {'model_dir': model_dir, 'model_size_mb': size_mb, 'images_per_second': ips,
              'verdict_source': verdict.source if verdict else 'detector',
              'heat_map': exported_heat_map(model_dir)}
    if result['heat_map'] is not None:
        result['images_per_second_with_heat_maps'] = exported_speed(model_dir, paths, True)[1]
    write_json_atomic(os.path.join(task['stage_dir'], METRICS), result)
    return result


STAGE_FUNCTIONS = {
    'classifier': run_classifier,
    'classifier_eval': run_classifier_eval,
    'pseudo_boxes': run_pseudo_boxes,
    'detector': run_detector,
    'evaluation': run_evaluation,
    'export': run_export,
}
