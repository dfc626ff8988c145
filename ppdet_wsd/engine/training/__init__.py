"""Training: ``WSDTrainer`` (ppdet's Trainer with our metrics), its checkpointer and the
state a resumed run needs, each epoch's seeded loading pass, the finite-loss guard, the
VisualDL writer and the online-refinement callback."""
