"""What a validation's job computed, addressed by model and split.

`Results` holds each label spec's statistics per split, TFDV's statistics per split
(full mode), what the readers found per file, and (labels-only) the partial statistics
left per file and what was reused of an earlier run's. The checks, the verdict and the
report ask it for `label(model, split)` and `context(model, split)`: a model's own
figures, whichever spec (and so whichever accumulator) it shares with others.
Plain data: tests build it by hand from LabelStats.
"""

import dataclasses
from collections.abc import Mapping

from classgate.stats.label import LabelSpec, LabelStats


@dataclasses.dataclass(frozen=True)
class Results:
    # (split name, label spec) -> that feature's statistics, class counts included
    label_stats: Mapping[tuple[str, LabelSpec], LabelStats]
    # split name -> TFDV's DatasetFeatureStatisticsList (full mode; else empty)
    tfdv_stats: Mapping[str, object] = dataclasses.field(default_factory=dict)
    # split name -> {path: what its reader found (compression, columns left out)}
    file_notes: Mapping[str, Mapping[str, dict]] = dataclasses.field(
        default_factory=dict
    )

    # labels-only: split -> {data file path: (name, sha256, bytes) of its partial}
    partials: Mapping[str, Mapping[str, tuple]] = dataclasses.field(
        default_factory=dict
    )
    # The key the partials were computed under (run.partials.key); "" for none.
    partial_key: str = ""
    # split -> files and bytes read and reused (report.model.Reuse's fields)
    reuse: Mapping[str, dict] = dataclasses.field(default_factory=dict)

    def label(self, model, split: str) -> LabelStats:
        """The statistics of a model's label feature in a split."""
        return self.label_stats[(split, LabelSpec.of_label(model))]

    def context(self, model, split: str) -> LabelStats | None:
        """The statistics of a model's context ids in a split; None without them."""
        spec = LabelSpec.of_context(model)
        return None if spec is None else self.label_stats[(split, spec)]

    def notes(self, split: str) -> Mapping[str, dict]:
        return self.file_notes.get(split, {})
