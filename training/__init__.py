"""isovox.training — torch: the model, datasets, the built-in corpus, losses, the training loop."""

# the training precisions (`isovox train --precision`); torch-free so that the CLI can list them
PRECISIONS = ("auto", "fp32", "bf16")  # auto: mixed precision on CUDA, fp32 on the CPU
