"""iactpipe-acceptance: a background acceptance model made from the runs of a DL3 data set."""

from __future__ import annotations

from pathlib import Path as PathlibPath

import astropy.units as u
from astropy.coordinates import SkyCoord
from ctapipe.core.traits import (
    AstroQuantity,
    Bool,
    ComponentName,
    Int,
    List,
    Path,
    classes_with_traits,
    flag,
)

from ..analysis import BackgroundAcceptanceModel, write_background_files
from ..io import InputFileError, OutputExistsError
from .dl3_directory import DL3DirectoryTool

__all__ = ["AcceptanceTool", "main"]


class AcceptanceTool(DL3DirectoryTool):
    """
    Background acceptance model made from the runs' own events (radial BKG_2D or
    field-of-view BKG_3D, in cos zenith bins, exclusion regions masked), written per run
    as GADF files that gammapy reads; with ``--attach`` the HDU index of the DL3
    directory points to them, so that ``gammapy.data.DataStore`` gives these runs this
    background (for point-like DL3 without background IRF, or to replace the IRF's).
    """

    name = "iactpipe-acceptance"
    description = __doc__
    examples = """
    Radial model of the runs of a point-like data set, the Crab excluded, attached:
    > iactpipe-acceptance -i dl3/ -o dl3/acceptance --target Crab --attach

    A 2D field-of-view model with a regions file of exclusions:
    > iactpipe-acceptance -i dl3/ -o bkg/ --model FoV2DBackgroundAcceptanceModel \\
        --exclusion-file exclusions.reg
    """

    obs_ids = List(Int(), default_value=[], help="Runs used (default: all)").tag(config=True)
    model_type = ComponentName(
        BackgroundAcceptanceModel,
        default_value="RadialBackgroundAcceptanceModel",
        help="Acceptance model",
    ).tag(config=True)
    exclusion_radius = AstroQuantity(
        default_value=0.3 * u.deg,
        physical_type=u.physical.angle,
        help="Radius of the circle excluded around the target",
    ).tag(config=True)
    exclusion_file = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="Regions file (DS9, CRTF, FITS; the regions package) of further exclusions",
    ).tag(config=True)
    attach_index = Bool(
        False, help="Point the bkg rows of the DL3 directory's HDU index to the new files"
    ).tag(config=True)

    aliases = {
        ("i", "input"): "AcceptanceTool.input_dir",
        ("o", "output"): "AcceptanceTool.output_dir",
        ("t", "target"): "AcceptanceTool.target_name",
        "ra": "AcceptanceTool.ra_deg",
        "dec": "AcceptanceTool.dec_deg",
        "obs-id": "AcceptanceTool.obs_ids",
        "model": "AcceptanceTool.model_type",
        "exclusion-radius": "AcceptanceTool.exclusion_radius",
        "exclusion-file": "AcceptanceTool.exclusion_file",
    }
    flags = {
        **flag(
            "attach",
            "AcceptanceTool.attach_index",
            "Point the HDU index's bkg rows of the runs to the new files",
            "Leave the HDU index as it is",
        ),
        **flag(
            "overwrite",
            "AcceptanceTool.overwrite",
            "Replace existing background files",
            "Never replace existing background files",
        ),
    }
    classes = classes_with_traits(BackgroundAcceptanceModel)

    def setup(self):
        self.require_directories()
        self.regions = []
        if self.target_given:  # the target is excluded
            target = self.configured_target()
            from regions import CircleSkyRegion

            self.regions.append(CircleSkyRegion(target.position, radius=self.exclusion_radius))
        if self.exclusion_file is not None:
            self.regions += _read_regions(PathlibPath(self.exclusion_file))
        out = PathlibPath(self.output_dir)
        if out.exists() and any(out.glob("bkg_obs*.fits")) and not self.overwrite:
            raise OutputExistsError(f"{out}: background files exist, use --overwrite")
        self.model = BackgroundAcceptanceModel.from_name(self.model_type, parent=self)

    def start(self):
        from gammapy.data import DataStore

        directory = PathlibPath(self.input_dir)
        try:
            self.store = DataStore.from_dir(directory)
            ids = self.obs_ids or list(self.store.obs_table["OBS_ID"])
            self.observations = list(self.store.get_observations(ids, required_irf="all-optional"))
        except (OSError, KeyError, ValueError) as err:
            raise InputFileError(f"{directory}: cannot read the runs: {err}") from err
        mask = self._exclusion_mask()
        try:
            self.acceptance = self.model(self.observations, mask)
        except ValueError as err:
            raise InputFileError(f"{directory}: {err}") from err

    def _exclusion_mask(self):
        """Boolean sky map (True = usable) covering every run's field of view."""
        from gammapy.maps import WcsGeom

        if not self.regions:
            return None
        pointings = [o.get_pointing_icrs(o.tmid) for o in self.observations]
        centre = SkyCoord(pointings[0].ra, pointings[0].dec, frame="icrs")
        spread = max(p.separation(centre) for p in pointings)
        width = 2 * (spread + self.model.offset_max) + 0.2 * u.deg
        geom = WcsGeom.create(skydir=centre, width=width, binsz=0.02, frame="icrs")
        return ~geom.region_mask(self.regions)

    def finish(self):
        index = _hdu_index_path(PathlibPath(self.input_dir))
        paths = write_background_files(
            self.acceptance,
            self.observations,
            self.output_dir,
            index if self.attach_index else None,
            self.overwrite,
        )
        print(
            f"{self.name}: {len(self.observations)} runs, "
            f"{self.acceptance.livetime.to_value(u.s):.0f} s, "
            f"{len(self.acceptance.models)} zenith bins -> {len(paths)} files in "
            f"{self.output_dir}" + (f"; {index.name} updated" if self.attach_index else "")
        )


def _read_regions(path: PathlibPath) -> list:
    from regions import Regions

    try:
        regions = Regions.read(str(path))
    except Exception as err:
        raise InputFileError(f"{path}: not a regions file ({err})") from err
    return [r for r in regions if hasattr(r, "to_pixel")]


def _hdu_index_path(directory: PathlibPath) -> PathlibPath:
    """The HDU index file gammapy's ``DataStore.from_dir`` reads in ``directory``."""
    for name in ("hdu-index.fits.gz", "hdu-index.fits"):
        if (directory / name).exists():
            return directory / name
    return directory / "hdu-index.fits.gz"


def main():
    """Run iactpipe-acceptance."""
    AcceptanceTool().run()
