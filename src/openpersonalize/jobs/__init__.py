"""Background work: a worker loop that claims jobs from the metadata store and runs them."""
