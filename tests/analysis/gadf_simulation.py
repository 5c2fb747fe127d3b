"""
GADF DL3 runs of "another instrument": CTAO prod5 IRFs (full enclosure,
../shared/data/irf/Prod5-*.fits.gz), events sampled by gammapy's
``MapDatasetEventSampler`` from a point source with a power-law spectrum plus the
IRF background, written by gammapy's ``Observation.write`` and indexed by
``iactpipe-index``. Used by tests/analysis/test_other_instrument.py and
benchmarks/analysis_quicklook.py.

gammapy 2.1 writes the IRF HDUs without HDUCLAS4, the GTI and PSF without any
HDUCLASx and a blank N_TELS: the files are indexed as gammapy writes them, so the test
also holds ``iactpipe-index`` to other writers' GADF.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from ctapipe.core import run_tool

REPO = Path(__file__).resolve().parents[2]
PROD5_NORTH = (REPO / ".." / "shared" / "data" / "irf").resolve() / (
    "Prod5-North-20deg-AverageAz-4LSTs09MSTs.180000s-v0.1.fits.gz"
)


def simulate_gadf_runs(
    out: Path,
    n_runs: int,
    livetime: u.Quantity,
    source: SkyCoord,
    amplitude: u.Quantity,
    index: float,
    seed: int = 1,
    irf_file: Path = PROD5_NORTH,
    wobble: u.Quantity = 0.5 * u.deg,
    start: str = "2024-01-10T22:00:00",
) -> Path:
    """
    ``n_runs`` wobble runs (position angles 0, 90, 180, 270 deg in turn) of ``livetime``
    each, one every ``livetime`` + 2 min from ``start``, of a point source at ``source``
    with dN/dE = amplitude (E/1 TeV)^-index; DL3 files and index in ``out``.
    """
    from gammapy.data import FixedPointingInfo, Observation, observatory_locations
    from gammapy.datasets import MapDataset, MapDatasetEventSampler
    from gammapy.irf import load_irf_dict_from_file
    from gammapy.makers import MapDatasetMaker
    from gammapy.maps import MapAxis, WcsGeom
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        Models,
        PointSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    from iactpipe.tools.index import IndexTool

    out.mkdir(parents=True, exist_ok=True)
    irfs = load_irf_dict_from_file(irf_file)
    energy = MapAxis.from_energy_bounds(0.1, 100, 5, per_decade=True, unit="TeV", name="energy")
    true = MapAxis.from_energy_bounds(0.05, 150, 8, per_decade=True, unit="TeV", name="energy_true")
    migra = MapAxis.from_bounds(0.2, 5, nbin=60, node_type="edges", name="migra")
    spectrum = PowerLawSpectralModel(index=index, amplitude=amplitude, reference=1 * u.TeV)
    for i in range(n_runs):
        pointing = source.directional_offset_by(90 * u.deg * (i % 4), wobble)
        obs = Observation.create(
            pointing=FixedPointingInfo(fixed_icrs=pointing),
            livetime=livetime,
            irfs=irfs,
            location=observatory_locations["cta_north"],
            obs_id=100 + i,
            tstart=Time(start) + i * (livetime + 2 * u.min),
        )
        geom = WcsGeom.create(
            skydir=pointing, width=4 * u.deg, binsz=0.04, frame="icrs", axes=[energy]
        )
        empty = MapDataset.create(geom, energy_axis_true=true, migra_axis=migra, name=f"d{i}")
        maker = MapDatasetMaker(selection=["exposure", "background", "psf", "edisp"])
        dataset = maker.run(empty, obs)
        source_model = SkyModel(
            spectral_model=spectrum.copy(),
            spatial_model=PointSpatialModel.from_position(source),
            name="source",
        )
        dataset.models = Models([source_model, FoVBackgroundModel(dataset_name=dataset.name)])
        obs._events = MapDatasetEventSampler(random_state=seed + i).run(dataset, obs)
        path = out / f"obs{100 + i:06d}.fits.gz"
        obs.write(path, include_irfs=True, overwrite=True)
    assert run_tool(IndexTool(), argv=[f"--dl3-dir={out}", "--pattern=obs*.fits.gz"]) == 0
    return out
