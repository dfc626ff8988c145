"""Running things: config loading, the trainer, and the train/eval/infer/export commands."""
