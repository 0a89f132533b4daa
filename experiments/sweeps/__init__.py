"""Sweeps: the paper's experiment grids over the studies (``python -m experiments sweep``).

One concept per module: :mod:`.grid` (axes, products, every check before a sweep starts), :mod:`.state`
(the sweep directory, ``sweep.json``, point states), :mod:`.worker` (running one point; the submitit
callable), :mod:`.executors` (local process pool, Slurm job arrays, submitit's debug executor),
:mod:`.figures` (the paper's figures as named sweeps), :mod:`.plot` (a sweep's figures), :mod:`.cli`,
:mod:`.gpu_check` (``python -m experiments gpu-check``). A point is a normal run directory of its study
(:mod:`experiments.runs`), continued from its checkpoint (:mod:`experiments.checkpoint`) whenever a worker,
a sweep or a Slurm job was stopped.
"""
