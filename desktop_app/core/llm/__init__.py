"""The language model: loading it, placing it on CPU/GPU, reading prompts, sampling,
streaming answers, and the checkpoints and saved states that spare re-reading."""
