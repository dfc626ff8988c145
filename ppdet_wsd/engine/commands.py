"""What the tools do (train, eval, infer, export, pseudo boxes), callable from Python."""
import json
import os
import time

from ppdet.core.workspace import create
from ppdet.data.reader import Compose
from ppdet.engine import init_parallel_env, set_random_seed
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.atomic import write_json_atomic

from ..cam import build_cam
from ..deploy.export import export_model
from ..deploy.onnx_export import export_onnx
from ..deploy.quantize import quantize_int8
from ..metrics import operating_threshold
from ..metrics.box_mode import CLASS_AWARE
from ..modeling.retinanet_mil import RetinaNetMIL
from ..pseudo.few_boxes import attach_truth, choose_class_thresholds
from ..pseudo.settings import PseudoBoxes
from ..utils.dist import is_main_process
from ..utils.settings import section
from .config import resolve_classes
from .prediction.detect import detect_images
from .prediction.infer import classify_images, list_images
from .prediction.cam_boxes import generate_pseudo_boxes
from .training.refinement import OnlineRefinement
from .training.trainer import WSDTrainer

logger = setup_logger(__name__)
TRAIN_SUMMARY = 'train_summary.json'


def train(cfg, validate=False, resume=None):
    """Train the configured architecture; checkpoints go to ``save_dir/<config name>``,
    with ``train_summary.json`` (wall seconds, epochs, the snapshot it resumed from and
    its first epoch, images, refinement history).

    Args:
        cfg: config from :func:`ppdet_wsd.engine.config.load_run_config`.
        validate (bool): evaluate on ``EvalDataset`` every ``snapshot_epoch``
            epochs and keep ``best_model`` by the metric's primary key.
        resume (str | None): checkpoint (path without ``.pdparams``) to resume; the run
            then ends exactly where the uninterrupted run would.
        ``cfg.seed`` (int | None) seeds paddle, numpy and ``random`` first (head
        initialisation) and again from ``(seed, epoch)`` at each epoch's start (dropout,
        augmentation; :mod:`~ppdet_wsd.engine.training.epoch_start`), so a run can be repeated.
    Returns:
        WSDTrainer: the trained trainer (its ``model`` holds the final weights).
    """
    init_parallel_env()
    if cfg.get('seed') is not None:
        set_random_seed(cfg.seed)
    resolve_classes(cfg, 'TrainDataset')
    trainer = WSDTrainer(cfg, mode='train')
    if resume:
        trainer.resume_weights(resume)
    elif cfg.get('pretrain_weights'):
        trainer.load_weights(cfg.pretrain_weights)
    tic = time.time()
    trainer.train(validate)
    seconds = time.time() - tic
    logger.info(f'training took {seconds:.1f} s')
    summary = {'seconds': seconds, 'epochs': cfg.epoch, 'resumed_from': resume,
               'start_epoch': trainer.start_epoch,
               'num_train_images': len(trainer.dataset), 'config': cfg.filename}
    refinement = [c for c in trainer._callbacks if isinstance(c, OnlineRefinement)]
    if refinement:
        summary['refinement'] = refinement[0].history
    if is_main_process():
        write_json_atomic(os.path.join(cfg.save_dir, cfg.filename, TRAIN_SUMMARY), summary)
    trainer.summary = summary
    return trainer


def checked_weights(cfg):
    """``cfg.weights``, after checking that it names an existing checkpoint.

    Raises:
        FileNotFoundError: no ``weights`` given, or neither ``<weights>`` nor
            ``<weights>.pdparams`` exists.
    """
    weights = cfg.get('weights')
    if not weights:
        raise FileNotFoundError('no checkpoint given: add -o weights=<path without .pdparams>')
    if not (os.path.isfile(weights) or os.path.isfile(weights + '.pdparams')):
        raise FileNotFoundError(f'checkpoint not found: {weights}(.pdparams)')
    return weights


def evaluate(cfg, output_json=None):
    """Evaluate ``cfg.weights`` on ``EvalDataset``; returns the metric results dict
    (and writes it to ``output_json`` when given)."""
    weights = checked_weights(cfg)
    resolve_classes(cfg, 'EvalDataset')
    trainer = WSDTrainer(cfg, mode='eval')
    trainer.load_weights(weights)
    tic = time.time()
    trainer.evaluate()
    results = dict(trainer.last_results, seconds=time.time() - tic)
    if output_json:
        write_json_atomic(output_json, results)
        logger.info(f'wrote {os.path.abspath(output_json)}')
    logger.info(json.dumps({k: v for k, v in results.items()
                            if not isinstance(v, dict)}, indent=None))
    return results


def evaluate_split(cfg, split, box_metrics):
    """:func:`evaluate` of ``cfg.weights`` on ``split`` of ``EvalDataset`` (box metrics
    against ``annotations.json`` only if asked)."""
    cfg.EvalDataset['split'] = split
    cfg['eval_box_metrics'] = box_metrics
    return evaluate(cfg)


def val_threshold_and_test(cfg):
    """A detector's operating threshold chosen on the **val** split's image labels
    (:func:`~ppdet_wsd.metrics.image_level.operating_threshold`: Youden's J of defective
    vs good images, or over (image, class) pairs without good val images; no box is
    read), then one measurement on ``test`` with box metrics.

    Returns:
        tuple: ``(val results, threshold or None when no pair of val images differs in a
        label, its basis ('images' / 'class pairs' / None), test results)``.
    """
    val = evaluate_split(cfg, 'val', box_metrics=False)
    threshold, basis = operating_threshold(val['labels'], val['defect_scores'],
                                           val['class_scores'])
    return val, threshold, basis, evaluate_split(cfg, 'test', box_metrics=True)


def fit_to_targets(cfg):
    """How well ``cfg.weights`` reproduces its own training boxes: :func:`evaluate` on
    the **train** split with ``TrainDataset.boxes_file`` (e.g. the pseudo boxes) as the
    boxes to find, class-aware. A detector that cannot reach a high mAP here is held
    back by its training, not by its targets.

    Returns:
        dict: the evaluation results (``det_map50`` etc. against the training boxes).
    """
    saved = {k: cfg.get(k) for k in ('eval_truth_file', 'eval_box_mode')}
    cfg['eval_truth_file'], cfg['eval_box_mode'] = cfg.TrainDataset['boxes_file'], CLASS_AWARE
    try:
        return evaluate_split(cfg, 'train', box_metrics=True)
    finally:
        cfg.update(saved)


def trained_model(cfg):
    """The configured model with ``cfg.weights`` loaded, in eval mode, and the class names."""
    weights = checked_weights(cfg)
    classes = resolve_classes(cfg, 'EvalDataset')
    trainer = WSDTrainer(cfg, mode='test')
    trainer.load_weights(weights)
    trainer.model.eval()
    return trainer.model, classes


def infer(cfg, infer_img=None, infer_dir=None, output_dir='output/infer', save_pictures=True):
    """Run ``cfg.weights`` on images: a classifier writes verdicts and heat maps
    (:func:`ppdet_wsd.engine.prediction.infer.classify_images`), a detector verdicts and boxes
    (:func:`ppdet_wsd.engine.prediction.detect.detect_images`)."""
    paths = list_images(infer_img, infer_dir)
    model, classes = trained_model(cfg)
    run = detect_images if isinstance(model, RetinaNetMIL) else classify_images
    return run(model, cfg, paths, output_dir, classes, cfg.get('verdict_threshold', 0.5),
               save_pictures)


def export(cfg, output_dir='output_inference', onnx=False, int8=False, calibration_images=32,
           verdict=None):
    """Export ``cfg.weights`` as a static model; returns the export folder.

    Args:
        onnx (bool): also write ``model.onnx`` (:mod:`ppdet_wsd.deploy.onnx_export`).
        int8 (bool): also write ``model.onnx`` and ``model_int8.onnx``
            (:mod:`ppdet_wsd.deploy.quantize`), calibrated on ``calibration_images``
            training images spread over the train split.
        verdict (ExportVerdict | None): the image verdict a detector's export carries
            (:mod:`ppdet_wsd.deploy.verdict_export`; the pipeline's export stage).
    """
    model, classes = trained_model(cfg)
    model_dir = export_model(model, cfg, classes, output_dir,
                             detector=isinstance(model, RetinaNetMIL), verdict=verdict)
    if onnx or int8:
        logger.info(f'wrote {export_onnx(model_dir)}')
    if int8:
        logger.info(f'wrote {quantize_int8(model_dir, train_images(calibration_images))}')
    return model_dir


def train_images(count):
    """``count`` image files spread evenly over the evaluation dataset's train split."""
    paths = [r['im_file'] for r in dataset_split('train').roidbs]
    return paths[::max(1, len(paths) // count)][:count]


def dataset_split(split):
    """The evaluation dataset's folder, parsed for ``split`` (None: every image)."""
    dataset = create('EvalDataset')()
    dataset.split = split
    dataset.check_or_download_dataset()
    dataset.parse_dataset()
    return dataset


def pseudo_options(cfg):
    """The ``PseudoBoxes`` config section as a dict, the defaults of
    :class:`~ppdet_wsd.pseudo.settings.PseudoBoxes` for what it leaves out (a misspelt key
    is an error naming it)."""
    return vars(section(PseudoBoxes, cfg))


def pseudo_box_generator(model, cfg, classes, options):
    """The config's ``CAMPseudoBoxGenerator`` for ``model``; in the explicit few-boxes mode
    (``PseudoBoxes.few_boxes: N > 0``) switched to per-class thresholds chosen on at most N
    boxed **val** images per class (:mod:`ppdet_wsd.pseudo.few_boxes`).

    Returns:
        tuple: ``(generator, used)``, ``used`` the number of boxed images the thresholds
        were chosen on (0 when the mode is off: then no ground truth is read).
    """
    generator = create('CAMPseudoBoxGenerator')
    per_class = int(options['few_boxes'] or 0)
    if per_class <= 0:
        return generator, 0
    val = dataset_split('val')
    records = attach_truth(val.roidbs, val.dataset_dir, val.image_root)
    cam_method = build_cam(options['method'], model, target_layer=options['target_layer'],
                           flips=options['flips'], scales=options['scales'])
    thresholds, used = choose_class_thresholds(
        cam_method, Compose(cfg.EvalReader['sample_transforms']), records, classes, per_class,
        generator.all_contours)
    generator.threshold_mode, generator.class_thresholds = 'per_class', thresholds
    logger.info(f'few-boxes mode: thresholds {thresholds} chosen on {used} boxed val images '
                f'(at most {per_class} per class)')
    return generator, used


def pseudo_boxes(cfg, output_dir=None):
    """Pseudo boxes of ``cfg.weights`` for the ``PseudoBoxes.split`` images of the
    evaluation dataset's folder; returns the path of ``pseudo_boxes.json`` (None in the
    helper processes of a multi-process run, see :func:`generate_pseudo_boxes`).

    ``PseudoBoxes`` in the config (:class:`~ppdet_wsd.pseudo.settings.PseudoBoxes`, all
    optional) chooses the split, the CAM method, the review size, the few-boxes mode and
    the resumable parts; the box rules are the ``CAMPseudoBoxGenerator`` section.
    """
    options = pseudo_options(cfg)
    model, classes = trained_model(cfg)
    generator, used = pseudo_box_generator(model, cfg, classes, options)
    dataset = dataset_split(options['split'])
    output_dir = output_dir or os.path.join(cfg.save_dir, cfg.filename,
                                            f'pseudo_{options["split"] or "all"}')
    return generate_pseudo_boxes(
        model, cfg, dataset, classes, generator, output_dir,
        method=options['method'], target_layer=options['target_layer'],
        flips=options['flips'], scales=options['scales'],
        use_image_labels=options['use_image_labels'],
        class_threshold=options['class_threshold'], num_review=options['num_review'],
        chunk_size=options['chunk_size'], few_boxes_used=used, info={'config': cfg.filename})
