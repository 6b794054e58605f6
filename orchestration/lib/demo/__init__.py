"""The demo-data generator: a believable supply platform's landing files, plus the truth.

    from orchestration.lib.demo import generate
    result = generate(LakeStore("lake"), preset="small", seed=7, faults=True)

Modules: ``presets`` (sizes), ``seasons`` (the shopping calendar), ``world`` (master data
and the demand model), ``sales``, ``factory`` and ``inventory`` (one day of each side of
the business), ``simulate`` (the daily loop), ``writers`` (one writer per file format),
``faults`` (bad deliveries) and ``generator`` (the entry point and the truth file).
"""

from orchestration.lib.demo.generator import TRUTH_PATH, DemoResult, generate
from orchestration.lib.demo.presets import PRESETS, Preset

__all__ = ["generate", "PRESETS", "DemoResult", "Preset", "TRUTH_PATH"]
