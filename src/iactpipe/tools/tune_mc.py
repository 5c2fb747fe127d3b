"""iactpipe-tune-mc: the r0-dl1 config that tunes MC to an observed run (NSB, efficiency)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path as PathlibPath

import numpy as np
import tables
import yaml
from ctapipe.core import ToolConfigurationError
from ctapipe.core.traits import Float, Int, Path, flag
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import read_table

from ..calib.pixel_charges import PixelChargeHistograms
from ..instrument.telescope_ids import to_mc_tel_id
from ..io import InputFileError
from ..io.dataformat import DL1_SKY_PEDESTAL_IMAGE_GROUP, tel_node
from ..io.outputs import OutputSet
from ..io.pixel_charges import read_pixel_charges
from ..simulation.camera import CameraResponse
from ..simulation.tuning import (
    PedestalModel,
    PedestalTuner,
    TuningResult,
    pde_factor,
    read_pde_corrections,
)
from .base import IactpipeTool

__all__ = ["TuneMCTool", "main"]


def pedestal_spread(path, tel_id: int, pedestal_only: bool) -> tuple[float, int] | None:
    """
    Median over the recorded windows of the median pixel pedestal std (p.e.) of one
    telescope of a DL1 file, and the number of windows; None without (pedestal) rows.
    """
    node = tel_node(DL1_SKY_PEDESTAL_IMAGE_GROUP, tel_id)
    with tables.open_file(path) as h5:
        if node not in h5:
            return None
    table = read_table(path, node)
    rows = ~np.asarray(table["from_shower_events"], dtype=bool)
    if not pedestal_only and not rows.any():
        rows = np.ones(len(table), dtype=bool)
    if not rows.any():
        return None
    medians = np.nanmedian(np.asarray(table["std"], dtype=np.float64)[rows], axis=-1)
    return float(np.nanmedian(medians)), int(rows.sum())


def telescopes(path) -> dict[int, str]:
    """``{tel_id: camera name}`` of a DL1 file."""
    try:
        subarray = SubarrayDescription.from_hdf(path)
    except Exception as err:
        raise InputFileError(f"{path}: not a DL1 file with a subarray ({err})") from None
    return {tel_id: str(subarray.tel[tel_id].camera.name) for tel_id in subarray.tel_ids}


class TuneMCTool(IactpipeTool):
    """
    Derive, per telescope, the extra NSB rate that gives the MC the pedestal charge
    spread of an observed run (median pixel std of the pedestal events' extracted
    charge), an extra electronic noise when the shape of the data's pedestal charges
    asks for it (``PedestalTuner``), and the optical-efficiency factor (given, or from
    a PDE-correction file in the format of sst1mpipe's
    ``mc_pde_correction_factors.json``, at the NSB level nearest to the run's); write
    the ``NSBWaveformModifier`` config of ``iactpipe-r0-dl1`` that applies them, and a
    report (PNG and JSON: data vs MC before and after).
    """

    name = "iactpipe-tune-mc"
    description = __doc__
    examples = """
    Tune the dark MC to a moonlit run, with the measured PDE corrections:
    > iactpipe-tune-mc --data dl1/run001001_tel021.dl1.h5 --mc dl1/gamma_dark.dl1.h5 \\
        --pde-corrections ../shared/data/calib/mc_pde_correction_factors.json \\
        -o tuning/run001001.yaml
    > iactpipe-r0-dl1 --config data_configs/r0_dl1_mc.yaml --config tuning/run001001.yaml \\
        -i gamma_dark.r1.h5 -o gamma_run001001.dl1.h5
    """

    input_data = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="DL1 file of the observed run (with interleaved pedestal events)",
    ).tag(config=True)
    input_mc = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="DL1 file of the MC to tune (its pedestal statistics)",
    ).tag(config=True)
    output = Path(
        default_value=None,
        allow_none=True,
        directory_ok=False,
        help="The tuned r0-dl1 config (YAML); the report beside it (.png, .json)",
    ).tag(config=True)
    pde_corrections = Path(
        default_value=None,
        allow_none=True,
        exists=True,
        directory_ok=False,
        help="PDE-correction file (JSON, mc_pde_correction_factors.json format)",
    ).tag(config=True)
    efficiency_factor = Float(
        default_value=None,
        allow_none=True,
        min=0.0,
        help="Efficiency factor for every telescope (instead of --pde-corrections)",
    ).tag(config=True)
    mc_nsb_rate_mhz = Float(
        40.0, min=0.0, help="NSB rate per pixel the MC was simulated with (MHz)"
    ).tag(config=True)
    seed = Int(0, min=0, help="Seed of the toy pedestals and of the tuned modifier").tag(
        config=True
    )

    aliases = {
        "data": "TuneMCTool.input_data",
        "mc": "TuneMCTool.input_mc",
        ("o", "output"): "TuneMCTool.output",
        "pde-corrections": "TuneMCTool.pde_corrections",
        "efficiency-factor": "TuneMCTool.efficiency_factor",
        "mc-nsb-rate-mhz": "TuneMCTool.mc_nsb_rate_mhz",
        "max-extra": "PedestalTuner.max_extra_nsb_rate_mhz",
        "n-rates": "PedestalTuner.n_rates",
        "n-toy-events": "PedestalTuner.n_toy_events",
        "max-extra-noise": "PedestalTuner.max_extra_noise_pe",
    }
    flags = {
        **flag(
            "overwrite",
            "TuneMCTool.overwrite",
            "Replace existing outputs",
            "Never replace existing outputs",
        ),
        **flag(
            "fit-extra-noise",
            "PedestalTuner.fit_extra_noise",
            "Fit an extra electronic noise when the pedestal charges' shape asks for it",
            "Match the spread with NSB only",
        ),
    }
    classes = [PedestalTuner, CameraResponse, PixelChargeHistograms]

    def setup(self):
        for option, value in (("--data", self.input_data), ("--mc", self.input_mc)):
            if value is None:
                raise ToolConfigurationError(f"{self.name}: give {option}")
        if self.output is None:
            raise ToolConfigurationError(f"{self.name}: give the output config (--output)")
        if self.pde_corrections is not None and self.efficiency_factor is not None:
            raise ToolConfigurationError(
                f"{self.name}: give --pde-corrections or --efficiency-factor, not both"
            )
        self.corrections = self._read_pde_corrections()
        data_tels, mc_tels = telescopes(self.input_data), telescopes(self.input_mc)
        self.pairs = self._pair_telescopes(data_tels, mc_tels)
        self.data_spread, self.mc_spread = {}, {}
        for data_tel, mc_tel in self.pairs.items():
            data = pedestal_spread(self.input_data, data_tel, pedestal_only=True)
            if data is None:
                raise InputFileError(
                    f"{self.input_data}: telescope {data_tel} has no pedestal-event statistics "
                    "(a run with interleaved pedestal events is needed)"
                )
            mc = pedestal_spread(self.input_mc, mc_tel, pedestal_only=False)
            if mc is None:
                raise InputFileError(
                    f"{self.input_mc}: telescope {mc_tel} has no pedestal statistics"
                )
            self.data_spread[data_tel], self.mc_spread[mc_tel] = data[0], mc[0]
        output = PathlibPath(self.output)
        self.outputs = OutputSet(self.overwrite)
        self._exit_stack.callback(self.outputs.discard)
        self.outputs.directory(output.parent)
        self.paths = {
            "config": output,
            "png": output.with_suffix(".png"),
            "json": output.with_suffix(".json"),
        }
        self.files = {key: self.outputs.add(path) for key, path in self.paths.items()}

    def _read_pde_corrections(self):
        if self.pde_corrections is None:
            return None
        try:
            return read_pde_corrections(json.loads(PathlibPath(self.pde_corrections).read_text()))
        except (ValueError, json.JSONDecodeError) as err:
            raise InputFileError(
                f"{self.pde_corrections}: not a PDE-correction file ({err})"
            ) from None

    def _pair_telescopes(self, data_tels: dict, mc_tels: dict) -> dict[int, int]:
        pairs = {}
        for tel_id, camera in sorted(data_tels.items()):
            mc_id = tel_id if tel_id in mc_tels else to_mc_tel_id(tel_id)
            if mc_id not in mc_tels:
                raise InputFileError(
                    f"{self.input_mc}: no telescope {mc_id} for data telescope {tel_id}"
                )
            if mc_tels[mc_id] != camera:
                raise InputFileError(
                    f"{self.input_mc}: telescope {mc_id} has camera {mc_tels[mc_id]}, the data's "
                    f"telescope {tel_id} {camera}: MC of another camera"
                )
            if self.corrections is not None and to_mc_tel_id(mc_id) not in self.corrections:
                raise InputFileError(f"{self.pde_corrections}: no factors for telescope {mc_id}")
            pairs[int(tel_id)] = int(mc_id)
        return pairs

    def start(self):
        subarray = SubarrayDescription.from_hdf(self.input_mc)
        self.tuner = PedestalTuner(parent=self)
        self.results: dict[int, TuningResult] = {}
        self.toys = {}
        models = {}
        for data_tel, mc_tel in self.pairs.items():
            camera_description = subarray.tel[mc_tel].camera
            name = camera_description.name
            if name not in models:
                camera = CameraResponse(
                    camera_description.readout,
                    camera_description.geometry.n_pixels,
                    nsb_condition="moon",
                    nsb_rate_moon_mhz=self.mc_nsb_rate_mhz,
                    nsb_pixel_spread=0.0,
                    parent=self,
                )
                models[name] = self.tuner.model(camera, camera_description.readout, self.seed)
            self.results[mc_tel] = self._tune(models[name], data_tel, mc_tel)

    def _efficiency_at(self, mc_tel: int):
        """The efficiency factor as a function of the total NSB rate (MHz)."""
        if self.corrections is not None:
            levels = self.corrections[to_mc_tel_id(mc_tel)]
            return lambda rate_mhz: pde_factor(levels, rate_mhz)
        factor = 1.0 if self.efficiency_factor is None else self.efficiency_factor
        return lambda rate_mhz: factor

    def _tune(self, model: PedestalModel, data_tel: int, mc_tel: int) -> TuningResult:
        target = self.data_spread[data_tel]
        histogram = read_pixel_charges(self.input_data, data_tel)
        if histogram is not None and np.sum(histogram["pedestal_counts"]) == 0:
            histogram = None
        try:
            result, self.toys[mc_tel] = self.tuner.tune(
                model, target, histogram, self._efficiency_at(mc_tel)
            )
        except ValueError as err:
            raise InputFileError(
                f"{self.input_data}: telescope {data_tel}: data noisier than the MC can be "
                f"tuned to ({err}; raise --PedestalTuner.max_extra_nsb_rate_mhz)"
            ) from None
        if result.stds_pe[0] > target * 1.03:
            self.log.warning(
                "telescope %d: data pedestal std %.3f p.e. below the MC's %.3f: no NSB added",
                data_tel,
                target,
                result.stds_pe[0],
            )
        return dataclasses.replace(result, tel_id=mc_tel, mc_std_pe=self.mc_spread[mc_tel])

    def tuned_config(self) -> dict:
        """The ``NSBWaveformModifier`` config of the results (MC telescope ids)."""
        results = sorted(self.results.values(), key=lambda r: r.tel_id)
        return {
            "NSBWaveformModifier": {
                "enabled": True,
                "seed": self.seed,
                "mc_nsb_rate_mhz": self.mc_nsb_rate_mhz,
                "extra_nsb_rate_mhz": [["id", r.tel_id, r.extra_nsb_rate_mhz] for r in results],
                "efficiency_factor": [
                    ["id", r.tel_id, round(r.efficiency_factor, 6)] for r in results
                ],
                "extra_noise_pe": [["id", r.tel_id, r.extra_noise_pe] for r in results],
            }
        }

    def summary(self) -> dict:
        """The report's numbers (JSON)."""
        return {
            "data": str(self.input_data),
            "mc": str(self.input_mc),
            "telescopes": [
                {
                    "data_tel_id": data_tel,
                    "mc_tel_id": mc_tel,
                    "data_pedestal_std_pe": self.results[mc_tel].data_std_pe,
                    "mc_pedestal_std_pe": self.results[mc_tel].mc_std_pe,
                    "model_pedestal_std_pe": self.results[mc_tel].model_std_pe,
                    "tuned_pedestal_std_pe": self.results[mc_tel].tuned_std_pe,
                    "extra_nsb_rate_mhz": self.results[mc_tel].extra_nsb_rate_mhz,
                    "efficiency_factor": self.results[mc_tel].efficiency_factor,
                    "extra_noise_pe": self.results[mc_tel].extra_noise_pe,
                    "data_pedestal_skewness": _finite(self.results[mc_tel].data_skewness),
                    "nsb_only_pedestal_skewness": _finite(self.results[mc_tel].nsb_only_skewness),
                    "tuned_pedestal_skewness": _finite(self.results[mc_tel].tuned_skewness),
                }
                for data_tel, mc_tel in self.pairs.items()
            ],
        }

    def finish(self):
        from ..plotting.tuning import plot_tuning  # matplotlib only when writing

        with open(self.files["config"].temporary_path, "w") as f:
            f.write(f"# {self.name}: MC tuned to {self.input_data}\n")
            yaml.safe_dump(self.tuned_config(), f, sort_keys=False)
        with open(self.files["json"].temporary_path, "w") as f:
            json.dump(self.summary(), f, indent=2)
        histograms = {
            data_tel: read_pixel_charges(self.input_data, data_tel) for data_tel in self.pairs
        }
        figure = plot_tuning(self.pairs, self.results, self.toys, histograms)
        figure.savefig(self.files["png"].temporary_path, format="png", dpi=100)
        self.outputs.commit()
        for data_tel, mc_tel in self.pairs.items():
            r = self.results[mc_tel]
            print(
                f"{self.name}: telescope {data_tel} (MC {mc_tel}): pedestal std data "
                f"{r.data_std_pe:.3f} p.e., MC {r.model_std_pe:.3f} -> {r.tuned_std_pe:.3f}; "
                f"extra NSB {r.extra_nsb_rate_mhz:.1f} MHz, extra noise {r.extra_noise_pe:.2f}, "
                f"efficiency {r.efficiency_factor:.4f}"
            )
        print(f"{self.name}: -> {', '.join(str(p) for p in self.paths.values())}")


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def main():
    """Run iactpipe-tune-mc."""
    TuneMCTool().run()
