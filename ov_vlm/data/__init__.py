"""Training data: LLaVA JSON/JSONL records, the supervised dataset, length-grouped sampling, data checks."""

from .check import CheckReport, check_records
from .dataset import SupervisedDataset, read_skip_log
from .records import DataError, load_records, modality
from .sampler import ModalityLengthGroupedSampler
from .synthetic import generate_shapes

__all__ = [
    "CheckReport",
    "DataError",
    "ModalityLengthGroupedSampler",
    "SupervisedDataset",
    "check_records",
    "generate_shapes",
    "load_records",
    "modality",
    "read_skip_log",
]
