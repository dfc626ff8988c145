"""Running things: config loading and the train / eval / infer / export commands
(``commands.py``), training (``training/``) and prediction loops (``prediction/``)."""
