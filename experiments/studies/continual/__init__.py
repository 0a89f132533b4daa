"""The continual-learning study (Sections 3.1 and 4, Appendix B.1.1–B.1.3; Figures 3.1, 3.2, 4.1, B.3–B.6).

``python -m experiments continual [--preset smoke|paper] [key=value ...] [--out DIR]``
``python -m experiments continual --plot RUN_DIR [RUN_DIR ...] [--output DIR]`` (redraw figures)

A model is trained on a sequence of tasks over disjoint class subsets (paper: Tiny ImageNet, 40 tasks ×
5 classes, 500 steps per task, Adam with lr 1e-3, 1e-4 for the ViT). Per seed the classes are a seeded
permutation of all classes, split into consecutive tasks. At each task start the output layer can be
re-initialised (``reset_head``: default weights, zero bias, cleared optimizer state) and the loss can
be masked to the task's classes (``mask_loss``: the softmax runs over the task's logits only, and the
predictions are the argmax over those). Interventions (``method``): none, Continual Backpropagation on
every hidden layer (:mod:`experiments.optim.cbp_targets`), shrink-and-perturb after every step, or
coupled L2 regularisation.

The package, one concept per module: :mod:`.config` (keys, presets, paper defaults), :mod:`.tasks` (data,
class split, per-task batches), :mod:`.loss` (masked cross-entropy), :mod:`.model` (build options, the
classifier layer), :mod:`.suite` (the metric suite), :mod:`.loop` (one seed's training, state explicit),
:mod:`.summary` (completeness and ``summary.json``), :mod:`.figures`, :mod:`.study` (one run), :mod:`.cli`.

``metrics.jsonl`` (written as it goes; every record has ``seed``, ``task``, ``step`` and ``event``):

* ``event="interval"`` every ``log_interval`` steps (and at step 0): ``online_accuracy`` (accuracy of each
  training batch *before* its update, averaged over the interval's samples), ``loss``, the metric suite
  on a fixed metric batch stratified over *all* classes (drawn once per seed) — per layer
  ``layer/<name>/{dead,duplicate,saturated}_fraction`` and ``layer/<name>/effective_rank``, and their
  means over layers ``dead_fraction``, ``duplicate_fraction``, ``saturated_fraction``,
  ``effective_rank`` — and, with CBP, ``cbp_replaced`` (units replaced in the interval);
* ``event="task_end"`` after each task: ``task_accuracy`` (held-out accuracy on the task just trained),
  ``mean_task_accuracy`` (mean of the task-end accuracies of all tasks so far), ``seen_tasks_accuracy``
  (the current model on the held-out data of every task seen so far, averaged over tasks) and
  ``task_online_accuracy`` (online accuracy over the whole task).

Figures (:func:`plot_run`, mean ± std over seeds): ``curves.png``, ``task_accuracy.png``, ``layers.png``,
``lop_scatter.png`` and ``summary_bars.png``. ``summary.json`` holds the headline numbers.
"""

from experiments.metrics import RunningAccuracy
from experiments.optim.plasticity_baselines import reset_head_
from experiments.studies.continual.cli import add_arguments, main
from experiments.studies.continual.config import (
    DEFAULT_DROPOUT,
    DEFAULT_LR,
    METHOD_KEYS,
    STUDY,
    ContinualConfig,
    resolve_continual_config,
    with_arch_defaults,
)
from experiments.studies.continual.figures import FIGURE_NAMES, FIGURES, FIGURES_DIR, draw, plot_run
from experiments.studies.continual.loop import (
    INTERVAL,
    TASK_END,
    SeedSetup,
    SeedState,
    held_out_accuracy,
    run_seed,
    train_step,
)
from experiments.studies.continual.loss import masked_cross_entropy
from experiments.studies.continual.model import model_options, output_layer
from experiments.studies.continual.study import resume, run
from experiments.studies.continual.suite import SUITE, metric_suite
from experiments.studies.continual.summary import KIND, SUMMARY_FILE, group_runs, summarize
from experiments.studies.continual.tasks import TaskBatches, load_data, task_classes

__all__ = [
    "DEFAULT_DROPOUT",
    "DEFAULT_LR",
    "FIGURES",
    "FIGURES_DIR",
    "FIGURE_NAMES",
    "INTERVAL",
    "KIND",
    "METHOD_KEYS",
    "STUDY",
    "SUITE",
    "SUMMARY_FILE",
    "TASK_END",
    "ContinualConfig",
    "RunningAccuracy",
    "SeedSetup",
    "SeedState",
    "TaskBatches",
    "add_arguments",
    "draw",
    "group_runs",
    "held_out_accuracy",
    "load_data",
    "main",
    "masked_cross_entropy",
    "metric_suite",
    "model_options",
    "output_layer",
    "plot_run",
    "reset_head_",
    "resolve_continual_config",
    "resume",
    "run",
    "run_seed",
    "summarize",
    "task_classes",
    "train_step",
    "with_arch_defaults",
]
