"""Evaluation: the metrics, CDnet clips and mask scoring, and the figures."""
