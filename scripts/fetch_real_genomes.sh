#!/usr/bin/env bash
# Fetch two real human sequences that Debian packages ship, for training on real DNA without a
# genome download: GRCh37 chr20 (package vt-examples) and a truncated GRCh37 chrX (smalt-examples,
# hs37chrXtrunc.fa.gz). Uses `apt-get download` (no root needed), unpacks with `dpkg-deb -x`, and prints
# the path of each FASTA (gzip-compressed ones are decompressed next to the original), then of
# grch37_20_X.fa, both contigs in one FASTA (contigs 20 and X, GRCh37 coordinates; the chrX file holds the
# first 69,999,930 bp of chrX) for a data set that trains on both.
#
# Usage: scripts/fetch_real_genomes.sh [CACHE_DIR]   (default ~/.cache/genome-plugin/genomes; the configs in
#        train/configs/ read build/genomes, so run `scripts/fetch_real_genomes.sh build/genomes` for them)
set -euo pipefail

cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/genome-plugin/genomes}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
cd "$cache"

for package in vt-examples smalt-examples; do
    if [ ! -d "$package" ]; then
        if ! ls "${package}"_*.deb >/dev/null 2>&1; then
            apt-get download "$package" >&2
        fi
        dpkg-deb -x "$(ls "${package}"_*.deb | head -n 1)" "$package.tmp"
        mv "$package.tmp" "$package"
    fi
done

plain() {
    # Print a plain-text copy of FASTA $1 (decompressing a gzip file once, keeping the original).
    local fasta="$1"
    case "$fasta" in
        *.gz)
            local out="${fasta%.gz}"
            [ -s "$out" ] || gzip -dc "$fasta" > "$out"
            echo "$out" ;;
        *) echo "$fasta" ;;
    esac
}

chr20="$(find "$cache/vt-examples" -name '*.fa*' \( -name '*20*' -o -name '*chr20*' \) ! -name '*.fai' | sort | head -n 1)"
chrx="$(find "$cache/smalt-examples" -name 'hs37chrXtrunc.fa*' ! -name '*.fai' | sort | head -n 1)"
for found in "$chr20" "$chrx"; do
    if [ -z "$found" ]; then
        echo "fetch_real_genomes.sh: a FASTA is missing from the unpacked packages in $cache" >&2
        exit 1
    fi
done
chr20_plain="$(plain "$chr20")"
chrx_plain="$(plain "$chrx")"
both="$cache/grch37_20_X.fa"
if [ ! -s "$both" ]; then
    cat "$chr20_plain" "$chrx_plain" > "$both.tmp"
    mv "$both.tmp" "$both"
fi
echo "$chr20_plain"
echo "$chrx_plain"
echo "$both"
