"""isovox.training — torch: the model, datasets, the built-in corpus, losses, the training loop."""
