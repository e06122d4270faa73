# analyze
