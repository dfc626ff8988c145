#!/usr/bin/env bash
# Set up (if needed) and run the main job on the built-in synthetic demo:
# make the dataset, train the image-level CAM classifier, evaluate it on the test
# split, draw heat maps, turn the heat maps into pseudo boxes (with a review page),
# train the RetinaNet-MIL detector on them, evaluate and draw its boxes, export both
# models. Outputs land in output/ and output_inference/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PY=${VENV:-.venv}/bin/python
CFG=configs/demo/cam_demo.yml
WEIGHTS=output/cam_demo/best_model
DET_CFG=configs/demo/rmil_demo.yml
DET_WEIGHTS=output/rmil_demo/model_final

"$PY" tools/make_demo_data.py --output demo_data/synthetic --overwrite
"$PY" tools/train.py -c "$CFG" --eval
"$PY" tools/eval.py -c "$CFG" -o weights="$WEIGHTS" EvalDataset.split=test \
    --output_json output/cam_demo/test_metrics.json
"$PY" tools/infer.py -c "$CFG" -o weights="$WEIGHTS" --infer_dir demo_data/synthetic/images \
    --output_dir output/cam_demo/heatmaps
"$PY" tools/gen_pseudo_boxes.py -c "$CFG" -o weights="$WEIGHTS" PseudoBoxes.split=null
"$PY" tools/export_model.py -c "$CFG" -o weights="$WEIGHTS" --output_dir output_inference
"$PY" tools/train.py -c "$DET_CFG" --eval
"$PY" tools/eval.py -c "$DET_CFG" -o weights="$DET_WEIGHTS" EvalDataset.split=test \
    --output_json output/rmil_demo/test_metrics.json
"$PY" tools/infer.py -c "$DET_CFG" -o weights="$DET_WEIGHTS" \
    --infer_dir demo_data/synthetic/images --output_dir output/rmil_demo/boxes
"$PY" tools/export_model.py -c "$DET_CFG" -o weights="$DET_WEIGHTS" --output_dir output_inference
echo
echo "demo finished:"
echo "  test-split metrics   output/cam_demo/test_metrics.json"
echo "  heat maps            output/cam_demo/heatmaps/*_cam.png (verdicts in results.json)"
echo "  pseudo boxes         output/cam_demo/pseudo_all/pseudo_boxes.json"
echo "  review page          output/cam_demo/pseudo_all/review/index.html"
echo "  detector metrics     output/rmil_demo/test_metrics.json (box mAP, miss / over-kill)"
echo "  detector boxes       output/rmil_demo/boxes/*_boxes.png (verdicts in results.json)"
echo "  exported models      output_inference/cam_demo/, output_inference/rmil_demo/"
