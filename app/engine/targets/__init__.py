"""What is differentiated and what comes back: the score of a target (a class logit or
output), per-request targets expanded into (sample, target) rows, and the batch of maps.
Imports nothing of the engine."""
