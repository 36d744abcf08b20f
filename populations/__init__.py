"""Populations: DEAP individuals, batched evaluation, toolbox, GA loops, checkpoints."""
