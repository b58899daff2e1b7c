"""What is differentiated and what comes back: the heads (classifier, multilabel,
regression, segmentation, detection: each turns outputs and a target row into one score
per row) and their table, the score of a class logit or output, per-request targets
expanded into rows (a class, a region, a box), default targets, and the batch of maps.
Imports nothing of the engine."""
