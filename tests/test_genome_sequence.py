"""One-hot encoding, reverse complement and the keep-length variant rule."""

import numpy as np
import pytest

from genome_plugin.genome import apply_variant, one_hot, reverse_complement


def test_one_hot_acgt_order_and_n_zeros():
    x = one_hot("ACGTNacgtR")
    assert x.dtype == np.float32 and x.shape == (10, 4)
    np.testing.assert_array_equal(x[:4], np.eye(4))
    np.testing.assert_array_equal(x[5:9], np.eye(4))
    assert not x[4].any() and not x[9].any()


def test_reverse_complement():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement(reverse_complement("GATTACA")) == "GATTACA"


def test_snv_mnv_keep_length_and_position():
    window = "AAAACAAAAA"
    assert apply_variant(window, 100, "C", "G", 105) == "AAAAGAAAAA"
    assert apply_variant(window, 100, "CA", "GT", 105) == "AAAAGTAAAA"


def test_deletion_refills_from_the_right_flank():
    window = "ACGTACGTAC"
    # delete "TA" after G at 1-based pos 103 (G) -> REF GTA, ALT G
    alt = apply_variant(window, 100, "GTA", "G", 103, right_flank="XY")
    assert alt == "ACGCGTACXY" and len(alt) == len(window)
    assert apply_variant(window, 100, "GTA", "G", 103) == "ACGCGTACNN"


def test_insertion_pushes_bases_out_on_the_right():
    window = "ACGTACGTAC"
    alt = apply_variant(window, 100, "G", "GTTT", 103)
    assert alt == "ACGTTTTACG" and len(alt) == len(window)


def test_ref_mismatch_and_outside_window():
    with pytest.raises(ValueError, match="does not match"):
        apply_variant("AAAA", 0, "C", "G", 2)
    with pytest.raises(ValueError, match="outside the window"):
        apply_variant("AAAA", 0, "A", "G", 10)
