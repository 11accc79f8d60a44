"""Training: the `Trainer` loop and the building blocks it calls.

Submodules (imported on demand, so `import bioner.training` stays cheap):

- `config`: `TrainingConfig`, the validated training settings, and `format_validation_error`.
- `optimizers`: `build_optimizer`, `clip_gradients`, learning-rate getters/setters.
- `schedules`: `PlateauAnnealer` (lr annealing on a dev-F1 plateau) and `EarlyStopping`.
- `checkpoints`: resumable best/last checkpoints without pickle.
- `metrics_log`: the append-only JSONL metrics log.
- `plots`: learning-curve plots from the metrics log.
- `seeding`: seeds, device selection, thread count.
- `trainer`: the `Trainer` loop.
"""
