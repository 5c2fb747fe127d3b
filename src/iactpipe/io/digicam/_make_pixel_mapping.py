"""Regenerate the DigiCam readout-order table shipped as package data.

DigiCam stores the 1296 waveforms of an event in *readout* order: the three micro-crates
in turn, within a crate the nine FADC boards from slot 9 down to slot 1, within a board
the 48 channels (``fadc_chan`` 1..48). The DigiCam pixel mapping
(``digicam_pixels_mapping_V5T.txt``) gives, for each channel, the software pixel id
(``pixel_sw_id``, the id of `~iactpipe.instrument.digicam_geometry`) and the module.
This script turns that table into ``iactpipe/resources/digicam/digicam_readout_order.ecsv``:
one row per readout position with its software pixel id and module, nothing else. The
package never reads the original mapping at run time.

The readout order was checked against real data: the ``pixelsIndices`` stored in
DigiCam zfits files (``example_10_evts.000.fits.fz``, 2017) equal the ``pixel_sw_id``
column of this table, row by row.

Usage::

    python -m iactpipe.io.digicam._make_pixel_mapping \\
        ../shared/data/instrument/digicam_pixels_mapping_V5T.txt
"""

import argparse
from pathlib import Path

import numpy as np
from astropy.table import Table

OUTPUT = (
    Path(__file__).resolve().parents[2] / "resources" / "digicam" / "digicam_readout_order.ecsv"
)
COLUMNS = {
    "module": 2,
    "micro_crate": 3,
    "fadc_board": 4,
    "fadc_chan": 6,
    "pixel_sw_id": 8,
}
N_BOARDS = 9
N_CHANNELS = 48


def readout_order_table(mapping_path: Path) -> Table:
    """Readout position -> software pixel id and module, from the DigiCam mapping file."""
    raw = np.genfromtxt(mapping_path, comments="#", usecols=sorted(COLUMNS.values()), dtype=int)
    cols = {name: raw[:, i] for i, name in enumerate(COLUMNS)}
    readout_index = (
        (cols["micro_crate"] - 1) * N_BOARDS * N_CHANNELS
        + (N_BOARDS - cols["fadc_board"]) * N_CHANNELS
        + (cols["fadc_chan"] - 1)
    )
    order = np.argsort(readout_index)
    if not np.array_equal(readout_index[order], np.arange(len(order))):
        raise ValueError(f"{mapping_path}: readout positions are not a permutation")
    table = Table(
        {
            "pixel_sw_id": cols["pixel_sw_id"][order].astype(np.int16),
            "module": cols["module"][order].astype(np.int16),
        }
    )
    table.meta["description"] = (
        "DigiCam readout order (crate 1..3, FADC board 9..1, channel 1..48): software "
        "pixel id and module of each readout position"
    )
    table.meta["source"] = Path(mapping_path).name
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mapping", type=Path, help="digicam_pixels_mapping_V5T.txt")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    readout_order_table(args.mapping).write(args.output, overwrite=True)


if __name__ == "__main__":
    main()
