"""The release loop: quality, challenger comparison, the promotion gate, blessings, retraining."""
