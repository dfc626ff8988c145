"""Prediction loops outside the Trainer: batching images, a detector's boxes and verdicts,
a classifier's verdicts, and the CAM path's resumable pseudo-box writer."""
