"""The Ray shell around the pure engine: ticket actors, the coordinator's executor, Ray start-up."""
