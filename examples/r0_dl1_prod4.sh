#!/usr/bin/env bash
# Process the CTA prod4 SST-1M simulation (if present) to DL1 with iactpipe-r0-dl1,
# then show the file's metadata with ctapipe-fileinfo and its Hillas parameters.
#
#   bash examples/r0_dl1_prod4.sh [INPUT.simtel.zst] [OUTPUT_DIR]
#
# The input defaults to the prod4 file in ../shared/data (not part of a fresh clone).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
input=${1:-$repo/../shared/data/simtel/gamma_20deg_0deg_run102___cta-prod4-sst-1m_desert-2150m-Paranal-sst-1m.simtel.zst}
outdir=${2:-$repo/demo_output}
output=$outdir/prod4_sst1m.dl1.h5

# the project's virtualenv if there is one, else whatever is on PATH
if [[ -x $repo/.venv/bin/iactpipe-r0-dl1 ]]; then
    bin=$repo/.venv/bin/
else
    bin=
fi

if [[ ! -f $input ]]; then
    echo "$input is not here: nothing to process (give an input file as first argument)."
    exit 0
fi

mkdir -p "$outdir"
"${bin}iactpipe-r0-dl1" --input "$input" --output "$output" --overwrite --progress
"${bin}ctapipe-fileinfo" "$output"
"${bin}python" "$repo/examples/read_dl1.py" "$output"
