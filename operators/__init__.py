"""DEAP-compatible crossover and mutation operators for neuroevo genomes."""
