"""Run a trained classifier over a dataset and write CAM pseudo boxes (COCO json).

Resumable: images are processed in chunks, each chunk's result is written atomically
to ``<output_dir>/.parts/``; a re-run with the same settings skips finished chunks. The
final ``pseudo_boxes.json`` is written atomically and the parts are then removed.
"""
import json
import os
import shutil
import time

import numpy as np
import paddle.distributed as dist
from ppdet.data.reader import Compose
from ppdet.utils.logger import setup_logger
from tqdm import tqdm

from ppdet_wsd_runtime.atomic import write_json_atomic

from ...cam import build_cam
from ...data.labels import file_key
from ...pseudo.align import align_to_original
from ...utils.dist import is_main_process, world_size
from ...utils.fingerprint import fingerprint
from ...visualization.review import (choose_review_files, render_review, save_review,
                                    write_review_gallery)
from .batches import image_batches

logger = setup_logger(__name__)
PARTS = '.parts'


def _barrier():
    """Wait for every process of a distributed launch (no-op in a single process)."""
    if world_size() > 1:
        if not dist.is_initialized():
            dist.init_parallel_env()
        dist.barrier()


def _prepare_parts(output_dir, settings):
    """The parts folder, emptied when it holds results made with other settings. In a
    multi-process run rank 0 prepares it while the others wait."""
    parts = os.path.join(output_dir, PARTS)
    stamp = os.path.join(parts, 'settings.json')
    print_ = fingerprint(settings)
    if is_main_process():
        if os.path.isfile(stamp) and json.load(open(stamp)).get('fingerprint') != print_:
            logger.info(f'settings changed: discarding finished parts in {parts}')
            shutil.rmtree(parts)
        os.makedirs(parts, exist_ok=True)
        write_json_atomic(stamp, {'fingerprint': print_, 'settings': settings})
    _barrier()
    return parts


def cam_batches(cam_method, transforms, records, batch_size):
    """Run a CAM method over dataset records batch by batch.

    Yields:
        tuple: ``(records, samples, CAMResult, seconds)`` per batch; ``samples`` are the
        transformed records (``im_shape``, ``h``, ``w`` locate each image in the input)
        and ``seconds`` is the time of the CAM call alone.
    """
    for batch, samples, image in image_batches(transforms, records, batch_size):
        tic = time.perf_counter()
        result = cam_method(image)
        yield batch, samples, result, time.perf_counter() - tic


def boxes_for_image(generator, maps, scores, sample, class_ids, classes):
    """Align the maps of ``class_ids`` with the original image and box them.

    Returns:
        tuple[np.ndarray, list[dict]]: aligned maps float32 ``[K, h, w]`` and the
        generator's boxes.
    """
    if not class_ids:
        return np.zeros((0, int(sample['h']), int(sample['w'])), np.float32), []
    aligned = align_to_original(maps[class_ids], sample['im_shape'], (sample['h'], sample['w']))
    return aligned, generator(aligned, scores[class_ids], [classes[i] for i in class_ids])


def labelled_classes(record):
    """Indices of the classes in a record's image label."""
    return [i for i, on in enumerate(record['img_label']) if on > 0.5]


def _chunk_records(cam_method, transforms, generator, records, classes, class_threshold,
                   use_image_labels, batch_size, review_files, output_dir):
    """Pseudo-box records of some dataset records (see :func:`generate_pseudo_boxes`);
    images in ``review_files`` also get a review picture."""
    out = []
    for batch, samples, result, _ in cam_batches(cam_method, transforms, records, batch_size):
        for record, sample, maps, scores in zip(batch, samples, result.maps, result.scores):
            labelled = labelled_classes(record)
            wanted = labelled if use_image_labels else \
                [i for i, s in enumerate(scores) if s >= class_threshold]
            aligned, boxes = boxes_for_image(generator, maps, scores, sample, wanted, classes)
            result_record = {'file': record['im_file'], 'height': int(sample['h']),
                             'width': int(sample['w']),
                             'image_labels': [classes[i] for i in labelled],
                             'class_scores': {c: float(s) for c, s in zip(classes, scores)},
                             'boxes': boxes}
            if record['im_file'] in review_files:
                picture = render_review(record['im_file'], aligned, wanted, result_record,
                                        classes)
                result_record['review'] = save_review(output_dir, picture, record['im_file'])
            out.append(result_record)
    return out


def to_coco(results, classes, image_root, info):
    """COCO dict of pseudo boxes: every image (good ones with no box), per-box ``score``
    (and ``above_level`` when the box dicts carry it), image labels, class scores and
    (when the record has one) the ``heat_map`` picture's path carried on each image entry."""
    cat_id = {c: i + 1 for i, c in enumerate(classes)}
    images, annotations = [], []
    for image_id, r in enumerate(results, start=1):
        images.append({'id': image_id, 'file_name': file_key(r['file'], image_root),
                       'width': r['width'], 'height': r['height'],
                       'image_labels': r['image_labels'], 'class_scores': r['class_scores'],
                       **({'heat_map': r['heat_map']} if r.get('heat_map') else {})})
        for b in r['boxes']:
            x1, y1, x2, y2 = b['box']
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id,
                                'category_id': cat_id[b['class']],
                                'bbox': [x1, y1, x2 - x1, y2 - y1],
                                'area': (x2 - x1) * (y2 - y1), 'iscrowd': 0,
                                'score': b['score'],
                                **({'above_level': bool(b['above_level'])}
                                   if 'above_level' in b else {})})
    return {'info': info, 'images': images, 'annotations': annotations,
            'categories': [{'id': cat_id[c], 'name': c} for c in classes]}


def generate_pseudo_boxes(model, cfg, dataset, classes, generator, output_dir,
                          method='cam', target_layer=None, flips=False, scales=(1.0,),
                          use_image_labels=True, class_threshold=0.5, chunk_size=64,
                          num_review=48, few_boxes_used=0, info=None):
    """Pseudo boxes for every image of ``dataset``; returns the path of ``pseudo_boxes.json``.

    Under ``paddle.distributed.launch`` each process boxes its share of the chunks;
    after a barrier rank 0 merges the parts and returns the path, the other ranks None.

    Args:
        model: a trained ``CAMClassifier`` (or any model ``build_cam`` accepts).
        cfg: the run config (``EvalReader`` gives the transforms and batch size).
        dataset (ImageLabelDataSet): parsed dataset.
        classes (list[str]): class names in model output order.
        generator (CAMPseudoBoxGenerator): map -> boxes.
        method, target_layer, flips, scales: the CAM method (``ppdet_wsd.cam``).
        use_image_labels (bool): box the image's labelled classes (the weak label
            is known for training images); otherwise the classes scored
            >= ``class_threshold``. Good images get no box either way when labels are used.
        class_threshold (float): the class decision when image labels are not used.
        chunk_size (int): images per resumable part.
        num_review (int): images (label-balanced) drawn into ``review/`` with a gallery
            ``review/index.html``.
        few_boxes_used (int): boxed val images the generator's thresholds were chosen
            on (0 unless the few-boxes mode is on); stored in the json.
        info (dict): provenance stored under ``info`` in the json.
    """
    settings = {'weights': cfg.get('weights'), 'method': method, 'target_layer': target_layer,
                'flips': flips, 'scales': list(scales), 'generator': vars(generator),
                'use_image_labels': use_image_labels, 'class_threshold': class_threshold,
                'num_review': num_review,
                'few_boxes_used': few_boxes_used}
    records = dataset.roidbs
    parts = _prepare_parts(output_dir, dict(settings, chunk_size=chunk_size,
                                            files=[r['im_file'] for r in records]))
    review_files = choose_review_files(records, num_review)
    transforms = Compose(cfg.EvalReader['sample_transforms'])
    cam_method = build_cam(method, model, target_layer=target_layer, flips=flips, scales=scales)
    starts = range(0, len(records), chunk_size)
    part_paths = [os.path.join(parts, f'{i:06d}.json') for i in range(len(starts))]
    rank, world = dist.get_rank(), world_size()
    mine = [i for i in range(len(starts)) if i % world == rank]  # this process's shard
    with tqdm(total=sum(len(records[starts[i]:starts[i] + chunk_size]) for i in mine),
              desc=f'pseudo boxes ({method}, process {rank + 1}/{world})', unit='img') as bar:
        for i in mine:
            chunk_records = records[starts[i]:starts[i] + chunk_size]
            if not os.path.isfile(part_paths[i]):
                write_json_atomic(part_paths[i], _chunk_records(
                    cam_method, transforms, generator, chunk_records, classes,
                    class_threshold, use_image_labels,
                    cfg.EvalReader.get('batch_size', 8), review_files, output_dir))
            bar.update(len(chunk_records))
    _barrier()
    if not is_main_process():
        return None  # rank 0 merges the shards
    results = []
    for path in part_paths:
        with open(path, encoding='utf-8') as f:
            results += json.load(f)
    coco = to_coco(results, classes, dataset.image_root,
                   dict(info or {}, image_root=os.path.abspath(dataset.image_root), **settings))
    path = os.path.join(output_dir, 'pseudo_boxes.json')
    write_json_atomic(path, coco)
    gallery = write_review_gallery(
        output_dir, results, f'Pseudo boxes: {method}',
        [f'{len(results)} images, {len(coco["annotations"])} boxes; weights {cfg.get("weights")}',
         'Each picture: the strongest class map of the image over it, and every pseudo box '
         'with its class and score. Good images get no box.'])
    logger.info(f'review gallery: {gallery}')
    shutil.rmtree(parts)
    logger.info(f'wrote {len(coco["annotations"])} pseudo boxes for {len(results)} images to {path}')
    return path
