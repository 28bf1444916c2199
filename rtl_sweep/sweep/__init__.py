"""Sweeps: search-space files, the Tune trainable, the collapse stopper, the Tuner set-up."""
