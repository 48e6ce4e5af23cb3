"""The DNA side (no JAX): intervals, variants, reference FASTA, sequences, VCF and GTF reading."""

from genome_plugin.genome.annotation import Annotation, read_gtf
from genome_plugin.genome.bed import parse_regions, read_bed
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.reference import Reference, contig_aliases, variant_sequences
from genome_plugin.genome.sequence import ALPHABET, apply_variant, one_hot, reverse_complement
from genome_plugin.genome.vcf import VcfRecord, read_vcf

__all__ = [
    "ALPHABET",
    "Annotation",
    "Interval",
    "Reference",
    "Variant",
    "VcfRecord",
    "apply_variant",
    "contig_aliases",
    "one_hot",
    "parse_regions",
    "read_bed",
    "read_gtf",
    "read_vcf",
    "reverse_complement",
    "variant_sequences",
]
