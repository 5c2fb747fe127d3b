"""Regenerate the DigiCam reference pulse template shipped as package data.

The DigiCam reference pulse is a measured shape, not an analytic one, so it is shipped
as a small table: ``iactpipe/resources/instrument/digicam_reference_pulse.ecsv``.
This script produces that file from the SST-1M array description (a ctapipe HDF5
``SubarrayDescription``, e.g. ``../shared/data/instrument/sst1m_array.h5``). It is kept
in the repository so the package data can be audited and regenerated; the package never
reads the source file at run time.

What it does and why:

- the source file holds two measured templates, one per telescope (21 and 22), that
  differ by up to 1.6 % of the peak in the undershoot and the tail. ctapipe keys trained
  models by telescope description, so both telescopes must share one description and
  hence one template: we store their mean (within 0.82 % of the peak of each).
- the template is zero after 84 ns; the trailing zeros are dropped and
  `~iactpipe.instrument.digicam_readout` pads them back to the reference length
  (1520 samples of 0.1 ns).

Usage::

    python -m iactpipe.instrument._make_pulse_template ../shared/data/instrument/sst1m_array.h5
"""

import argparse
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.instrument import SubarrayDescription

OUTPUT = (
    Path(__file__).resolve().parents[1]
    / "resources"
    / "instrument"
    / "digicam_reference_pulse.ecsv"
)


def make_template(path: Path, tel_ids: tuple[int, ...] = (21, 22)) -> Table:
    """Average the per-telescope reference pulses of ``path`` into one template table.

    Parameters
    ----------
    path : Path
        ctapipe HDF5 file holding a ``SubarrayDescription`` with DigiCam telescopes.
    tel_ids : tuple[int, ...]
        Telescopes whose templates are averaged.

    Returns
    -------
    astropy.table.Table
        Column ``amplitude`` (peak-normalised, single gain channel); metadata holds
        the sample width and the full length of the template.
    """
    subarray = SubarrayDescription.from_hdf(path)
    readouts = [subarray.tel[tel_id].camera.readout for tel_id in tel_ids]
    widths = {round(r.reference_pulse_sample_width.to_value(u.ns), 6) for r in readouts}
    if len(widths) != 1:
        raise ValueError(f"Telescopes {tel_ids} have different template sample widths: {widths}")

    mean = np.mean([r.reference_pulse_shape[0] for r in readouts], axis=0)
    last = np.nonzero(mean)[0][-1]
    table = Table({"amplitude": np.round(mean[: last + 1], 7)})
    table.meta["sample_width_ns"] = widths.pop()
    table.meta["n_samples_full"] = int(mean.size)
    table.meta["source"] = f"mean of the reference pulses of tel {tel_ids} in {path.name}"
    table.meta["generator"] = "python -m iactpipe.instrument._make_pulse_template"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="SST-1M array description (ctapipe HDF5)")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    make_template(args.input).write(args.output, format="ascii.ecsv", overwrite=True)


if __name__ == "__main__":
    main()
