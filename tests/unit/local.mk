# C unit tests, one per libpmt module
