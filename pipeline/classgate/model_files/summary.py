"""What a model's own files say about its number of classes, read once on the driver.

`read` opens the vocabulary and the checkpoint a model config names; the checks
(classgate.checks.artifacts) compare what it found with the config. A submitted run
stages this summary as data, so `conclude` never opens those paths itself.
"""

import dataclasses

from classgate.model_files import checkpoint, vocabulary


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """What the model's own files say about its number of classes."""

    vocabulary_size: int | None = None
    vocabulary_duplicates: dict = dataclasses.field(default_factory=dict)
    weights: tuple[str, tuple[int, ...]] | None = None  # (variable name, shape)
    biases: tuple[str, tuple[int, ...]] | None = None


def read(model) -> ModelFiles:
    """What a model's vocabulary and checkpoint say (model: a config.ModelConfig)."""
    found = {}
    if model.vocabulary_file:
        vocabulary.forget(model.vocabulary_file)  # as it is now, not as once read
        lines = vocabulary.load(model.vocabulary_file)
        found["vocabulary_size"] = len(lines)
        found["vocabulary_duplicates"] = vocabulary.duplicates(lines)
    if model.checkpoint:
        variables = checkpoint.variables(model.checkpoint)
        for role in ("weights", "biases"):
            wanted = getattr(model, f"{role}_variable")
            if wanted:
                name, shape = checkpoint.find(
                    variables, wanted, f"{role}_variable", model.checkpoint
                )
                found[role] = (name, tuple(shape))
    return ModelFiles(**found)
