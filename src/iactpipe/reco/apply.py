"""
Application of trained models to DL1 events, chunk by chunk, with stereo combination.

`DL2Reconstructor` takes a range of array events of a `DL1EventFile`, reads the needed
columns of each telescope's events in that range, predicts energy, gammaness and the
disp displacement per telescope, combines the telescopes (weighted means, sign-resolved
direction) and returns the DL2 tables in ctapipe's layout
(``/dl2/event/telescope/<kind>/<prefix>/tel_NNN`` and ``/dl2/event/subarray/<kind>/<prefix>``).
"""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
from astropy.table import Table
from ctapipe.core import Component
from ctapipe.reco.preprocessing import horizontal_to_telescope, telescope_to_horizontal

from ..instrument import to_mc_tel_id
from ..io import InputFileError
from ..io.dataformat import (
    DL2_SUBARRAY_CLASSIFICATION_GROUP,
    DL2_SUBARRAY_ENERGY_GROUP,
    DL2_SUBARRAY_GEOMETRY_GROUP,
    DL2_TEL_GROUP,
    TELESCOPE_EVENT_KEYS,
    tel_node,
)
from ..stereo.files import event_keys
from .combination import StereoCombination
from .models import RecoEventSelection, RecoModel
from .tables import PARAMETERS, POINTING_COLUMNS, SUBARRAY_TRIGGER, DL1EventFile
from .training import RECO_ENERGY_FEATURE

__all__ = ["DL2Reconstructor"]

GEOMETRY_COLUMNS = [
    "hillas_intensity",
    "hillas_length",
    "hillas_width",
    "hillas_fov_lon",
    "hillas_fov_lat",
    "hillas_psi",
    *POINTING_COLUMNS,
]


class DL2Reconstructor(Component):
    """
    Apply energy, particle and direction models to DL1 events and combine telescopes.

    Parameters
    ----------
    models : Mapping[str, RecoModel]
        Loaded models by kind (``energy``, ``classification``, ``disp``); any subset.
    """

    def __init__(self, models: Mapping[str, RecoModel], **kwargs):
        super().__init__(**kwargs)
        if not models:
            raise ValueError("no model to apply")
        self.models = dict(models)
        self.selection = RecoEventSelection(parent=self)
        self.combination = StereoCombination(parent=self)
        energy_features = {RECO_ENERGY_FEATURE}
        for model in self.models.values():
            if model.kind != "energy" and RECO_ENERGY_FEATURE in model.all_features:
                if "energy" not in self.models:
                    raise ValueError(
                        "the classifier uses the reconstructed energy: no energy model"
                    )
        needed = set(GEOMETRY_COLUMNS)
        for model in self.models.values():
            needed |= set(model.all_features) - energy_features
        self.columns = sorted(needed)

    # ------------------------------------------------------------ checks

    def check(self, f: DL1EventFile) -> list[int]:
        """
        The telescopes of ``f`` to process; an `InputFileError` naming the problem if a
        telescope has no model, a column is missing or there is no event.
        """
        tel_ids = [t for t in f.tel_ids if f.n_events(t) > 0]
        if not tel_ids or f.h5.get_node(SUBARRAY_TRIGGER).nrows == 0:
            raise InputFileError(f"{f.path}: no events")
        for tel_id in tel_ids:
            try:
                to_mc_tel_id(tel_id)
            except ValueError as err:
                raise InputFileError(f"{f.path}: {err}") from None
            for model in self.models.values():
                if model.key(tel_id) not in model.keys:
                    raise InputFileError(
                        f"{f.path}: no {model.kind} model for telescope {tel_id} "
                        f"({model.key(tel_id)}); the models are for {', '.join(model.keys)}"
                    )
            missing = sorted(set(self.columns) - f.available_columns(tel_id))
            if missing:
                stereo = any(m.stereo for m in self.models.values())
                hint = " (stereo models need iactpipe-dl1-stereo output)" if stereo else ""
                raise InputFileError(
                    f"{f.path}: telescope {tel_id} lacks the column(s) {', '.join(missing)}{hint}"
                )
        keys = {t: f.event_keys(PARAMETERS.format(t)) for t in tel_ids}
        for tel_id, k in keys.items():
            if np.any(np.diff(k) < 0):
                raise InputFileError(
                    f"{f.path}: events of telescope {tel_id} are not sorted by (obs_id, event_id)"
                )
        return tel_ids

    # ------------------------------------------------------------ one chunk

    def __call__(
        self, f: DL1EventFile, tel_ids: list[int], start: int, stop: int
    ) -> dict[str, Table]:
        """
        DL2 tables of the array events ``start:stop`` of the subarray trigger table.

        Returns
        -------
        dict[str, astropy.table.Table]
            ``{hdf5 path: table}``.
        """
        trigger_keys = f.event_keys(SUBARRAY_TRIGGER)[start:stop]
        trigger = f.h5.get_node(SUBARRAY_TRIGGER)
        obs_id = trigger.read(start, stop, field="obs_id")
        event_id = trigger.read(start, stop, field="event_id")
        n = len(trigger_keys)
        n_tel = len(tel_ids)
        out: dict[str, Table] = {}
        per_tel = {
            name: np.full((n, n_tel), np.nan)
            for name in (
                "energy",
                "gammaness",
                "intensity",
                "length",
                "width",
                "cog_x",
                "cog_y",
                "disp_x",
                "disp_y",
                "alt",
                "az",
                "valid_energy",
                "valid_class",
                "valid_disp",
            )
        }
        for k, tel_id in enumerate(tel_ids):
            keys = f.event_keys(PARAMETERS.format(tel_id))
            lo, hi = np.searchsorted(keys, [trigger_keys[0], trigger_keys[-1] + 1]) if n else (0, 0)
            table = f.read(tel_id, self.columns, int(lo), int(hi))
            where = np.searchsorted(trigger_keys, event_keys(table["obs_id"], table["event_id"]))
            tables = self._predict_telescope(table)
            for path_kind, t in tables.items():
                kind, prefix = path_kind
                out[tel_node(f"{DL2_TEL_GROUP}/{kind}/{prefix}", tel_id)] = t
            self._collect(per_tel, k, where, table, tables)
        out.update(self._combine(per_tel, obs_id, event_id, tel_ids))
        return out

    def _predict_telescope(self, table: Table) -> dict[tuple[str, str], Table]:
        ids = table[list(TELESCOPE_EVENT_KEYS)]
        good = self.selection.get_table_mask(table)
        result = {}
        if "energy" in self.models:
            model = self.models["energy"]
            prediction = model.predict(table[good])
            energy = _expand(prediction, good)
            table[RECO_ENERGY_FEATURE] = np.asarray(energy[f"{model.prefix}_tel_energy"], float)
            result[("energy", model.prefix)] = _with_ids(ids, energy)
        if "classification" in self.models:
            model = self.models["classification"]
            result[("classification", model.prefix)] = _with_ids(
                ids, _expand(model.predict(table[good]), good)
            )
        if "disp" in self.models:
            model = self.models["disp"]
            p = model.prefix
            disp = _expand(model.predict(table[good]), good)
            lon = table["hillas_fov_lon"].quantity.to_value(u.deg)
            lat = table["hillas_fov_lat"].quantity.to_value(u.deg)
            alt, az = self._to_altaz(
                lon + np.asarray(disp[f"{p}_tel_disp_dx"]),
                lat + np.asarray(disp[f"{p}_tel_disp_dy"]),
                table,
            )
            valid = np.asarray(disp[f"{p}_tel_is_valid"])
            geometry = Table({f"{p}_tel_alt": alt, f"{p}_tel_az": az, f"{p}_tel_is_valid": valid})
            disp.remove_column(f"{p}_tel_is_valid")  # in the geometry table, as ctapipe
            result[("disp", p)] = _with_ids(ids, disp)
            result[("geometry", p)] = _with_ids(ids, geometry)
        return result

    @staticmethod
    def _to_altaz(lon_deg, lat_deg, table) -> tuple[u.Quantity, u.Quantity]:
        alt, az = telescope_to_horizontal(
            lon=lon_deg * u.deg,
            lat=lat_deg * u.deg,
            pointing_alt=table["telescope_pointing_altitude"].quantity,
            pointing_az=table["telescope_pointing_azimuth"].quantity,
        )
        return alt.to(u.deg), az.to(u.deg)

    def _collect(self, per_tel, k, where, table, tables) -> None:
        per_tel["intensity"][where, k] = np.asarray(table["hillas_intensity"], float)
        per_tel["length"][where, k] = table["hillas_length"].quantity.to_value(u.deg)
        per_tel["width"][where, k] = table["hillas_width"].quantity.to_value(u.deg)
        per_tel["alt"][where, k] = table["telescope_pointing_altitude"].quantity.to_value(u.deg)
        per_tel["az"][where, k] = table["telescope_pointing_azimuth"].quantity.to_value(u.deg)
        per_tel["cog_x"][where, k] = table["hillas_fov_lon"].quantity.to_value(u.deg)
        per_tel["cog_y"][where, k] = table["hillas_fov_lat"].quantity.to_value(u.deg)
        for (kind, p), t in tables.items():
            if kind == "energy":
                per_tel["energy"][where, k] = np.asarray(t[f"{p}_tel_energy"], float)
            elif kind == "classification":
                per_tel["gammaness"][where, k] = np.asarray(t[f"{p}_tel_prediction"], float)
            elif kind == "disp":
                valid = np.isfinite(np.asarray(t[f"{p}_tel_disp_dx"], float))
                per_tel["disp_x"][where, k] = np.where(valid, t[f"{p}_tel_disp_dx"], np.nan)
                per_tel["disp_y"][where, k] = np.where(valid, t[f"{p}_tel_disp_dy"], np.nan)

    def _combine(self, per_tel, obs_id, event_id, tel_ids) -> dict[str, Table]:
        c = self.combination
        weights = c.telescope_weights(per_tel["intensity"], per_tel["length"], per_tel["width"])
        ids = {"obs_id": obs_id, "event_id": event_id}
        out = {}
        if "energy" in self.models:
            p = self.models["energy"].prefix
            energy = per_tel["energy"]
            mean, spread = c.log_mean(energy, weights)
            valid = np.isfinite(mean)
            with np.errstate(invalid="ignore"):
                uncert = mean * (10**spread - 1)
            out[f"{DL2_SUBARRAY_ENERGY_GROUP}/{p}"] = Table(
                {
                    **ids,
                    f"{p}_energy": mean * u.TeV,
                    f"{p}_energy_uncert": uncert * u.TeV,
                    f"{p}_log_energy_std": spread,
                    f"{p}_is_valid": valid,
                    f"{p}_telescopes": np.isfinite(energy),
                }
            )
        if "classification" in self.models:
            p = self.models["classification"].prefix
            g = per_tel["gammaness"]
            mean, spread = c.mean(g, weights)
            out[f"{DL2_SUBARRAY_CLASSIFICATION_GROUP}/{p}"] = Table(
                {
                    **ids,
                    f"{p}_prediction": mean,
                    f"{p}_prediction_std": spread,
                    f"{p}_is_valid": np.isfinite(mean),
                    f"{p}_telescopes": np.isfinite(g),
                }
            )
        if "disp" in self.models:
            p = self.models["disp"].prefix
            out[f"{DL2_SUBARRAY_GEOMETRY_GROUP}/{p}"] = self._direction(per_tel, weights, ids, p)
        return out

    def _direction(self, per_tel, weights, ids, p) -> Table:
        cog_x, cog_y = per_tel["cog_x"].copy(), per_tel["cog_y"].copy()
        dx, dy = per_tel["disp_x"].copy(), per_tel["disp_y"].copy()
        alt, az = per_tel["alt"], per_tel["az"]
        with np.errstate(invalid="ignore"), _quiet():
            array_alt = np.nanmean(alt, axis=1)
            az_rad = np.deg2rad(az)
            array_az = (
                np.rad2deg(np.arctan2(np.nanmean(np.sin(az_rad), 1), np.nanmean(np.cos(az_rad), 1)))
                % 360
            )
        valid = np.isfinite(dx)
        d_alt = np.abs(alt - array_alt[:, None])
        d_az = np.abs((az - array_az[:, None] + 180) % 360 - 180)
        same = np.all(~valid | ((d_alt < 1e-6) & (d_az < 1e-6)))
        if not same:  # telescopes point differently: express everything in the array frame
            for k in range(cog_x.shape[1]):
                rows = valid[:, k]
                if not rows.any():
                    continue
                args = (alt[rows, k] * u.deg, az[rows, k] * u.deg)
                pa, pz = array_alt[rows] * u.deg, array_az[rows] * u.deg
                c_alt, c_az = telescope_to_horizontal(
                    cog_x[rows, k] * u.deg, cog_y[rows, k] * u.deg, *args
                )
                e_alt, e_az = telescope_to_horizontal(
                    (cog_x[rows, k] + dx[rows, k]) * u.deg,
                    (cog_y[rows, k] + dy[rows, k]) * u.deg,
                    *args,
                )
                cx, cy = horizontal_to_telescope(c_alt, c_az, pa, pz)
                ex, ey = horizontal_to_telescope(e_alt, e_az, pa, pz)
                cog_x[rows, k], cog_y[rows, k] = cx.to_value(u.deg), cy.to_value(u.deg)
                dx[rows, k] = ex.to_value(u.deg) - cog_x[rows, k]
                dy[rows, k] = ey.to_value(u.deg) - cog_y[rows, k]
        cog_x[~valid], cog_y[~valid] = np.nan, np.nan
        direction = self.combination.direction(cog_x, cog_y, dx, dy, weights)
        ok = np.isfinite(direction["x"]) & np.isfinite(array_alt)
        alt_out, az_out = np.full(len(ok), np.nan), np.full(len(ok), np.nan)
        if ok.any():
            a, z = telescope_to_horizontal(
                direction["x"][ok] * u.deg,
                direction["y"][ok] * u.deg,
                array_alt[ok] * u.deg,
                array_az[ok] * u.deg,
            )
            alt_out[ok], az_out[ok] = a.to_value(u.deg), z.to_value(u.deg)
        flipped = np.where(valid, direction["signs"] < 0, False)
        return Table(
            {
                **ids,
                f"{p}_alt": alt_out * u.deg,
                f"{p}_az": az_out * u.deg,
                f"{p}_ang_distance_uncert": direction["uncert"] * u.deg,
                f"{p}_disp_distance": direction["disp_distance"] * u.deg,
                f"{p}_is_valid": ok,
                f"{p}_telescopes": valid,
                f"{p}_sign_flipped": flipped,
                f"{p}_fov_lon": direction["x"] * u.deg,
                f"{p}_fov_lat": direction["y"] * u.deg,
            }
        )


def _expand(prediction: Table, rows: np.ndarray) -> Table:
    """Predictions of the selected ``rows`` in a table of ``len(rows)`` (invalid elsewhere)."""
    out = Table()
    for name in prediction.colnames:
        column = prediction[name]
        data = np.asarray(column)
        if data.dtype == bool:
            full = np.zeros(len(rows), bool)
        else:
            full = np.full(len(rows), np.nan)
        full[rows] = data
        out[name] = u.Quantity(full, column.unit) if column.unit is not None else full
    return out


def _with_ids(ids: Table, table: Table) -> Table:
    out = ids.copy()
    for name in table.colnames:
        out[name] = table[name]
    return out


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
