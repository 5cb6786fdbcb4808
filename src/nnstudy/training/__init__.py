"""Training: the batched trainer, optimizers, schedules, early stopping, diagnostics."""
