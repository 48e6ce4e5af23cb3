"""Training: data from the user's own tracks (``data``), the batch contract (``batch``), augmentation and labels."""

from genome_plugin.train.batch import SPLICE_CLASSES, target_key
from genome_plugin.train.data import DataConfig, TrainingData, read_track_table

__all__ = ["SPLICE_CLASSES", "DataConfig", "TrainingData", "read_track_table", "target_key"]
