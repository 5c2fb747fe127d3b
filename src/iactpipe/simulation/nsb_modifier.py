"""
Waveform-level tuning of simulations to an observed night: extra NSB, the SST-1M
voltage drop, the optical efficiency.

`NSBWaveformModifier` changes the R1 waveforms (p.e. units, baseline subtracted) of a
simulated telescope event before the charge extraction, in three steps:

1. the whole waveform is scaled by ``efficiency_factor`` (the photo-detection
   efficiency correction of the MC, e.g. from ``mc_pde_correction_factors.json``);
2. ``extra_nsb_rate_mhz`` Poisson NSB photo-electrons per pixel, uniform in time over
   the readout window (and 60 ns before it, as the simulator), each with the camera's
   pulse template (`iactpipe.simulation.camera`), optical cross-talk and single-p.e.
   amplitude spread; their mean is subtracted (DigiCam is DC coupled: the calibration
   subtracts the baseline with its NSB shift);
3. Gaussian noise per sample for the voltage drop: the calibration of the data corrects
   the gain loss ``g = 1 / (1 + f / f_s)`` of the NSB rate ``f`` (the signal stays in
   p.e.), which amplifies the electronic noise by ``1 / g``. The MC has the noise of its
   own rate ``mc_nsb_rate_mhz`` (times the efficiency factor); the noise added makes it
   that of ``mc_nsb_rate_mhz + extra_nsb_rate_mhz``, plus ``extra_noise_pe`` if set.

The camera model is `~iactpipe.simulation.CameraResponse` (its traits configure it, as
for ``iactpipe-simulate``). The random numbers of a telescope event come from a
generator seeded with ``(seed, obs_id, event_id, tel_id)``: the same for every engine,
chunk size and event order. When ``enabled``, the modifier's settings enter the DL1
config fingerprint, so models, IRFs and DL3 made from tuned MC refuse another tuning.
Observed runs are not modified (unless ``modify_observed_data``): processed with the
tuning config of their NSB level, their DL1 records the tuning their models need.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from ctapipe.core import TelescopeComponent
from ctapipe.core.traits import Bool, Int

from ..io.traits import NonNegativeFloatTelescopeParameter
from .camera import PULSE_AREA_NS, PULSE_TABLE, CameraResponse, add_pulses

__all__ = ["NSBWaveformModifier", "add_nsb_pulses", "gain_drop_noise", "modify_waveform"]

#: NSB photo-electrons start this long before the readout window (ns), as in the simulator
NSB_LEAD_NS = 60.0
#: and end this long after it (ns)
NSB_TRAIL_NS = 20.0


def add_nsb_pulses(
    waveform: np.ndarray,
    rng: np.random.Generator,
    rate_mhz: float,
    sample_ns: float,
    amplitude: float,
    cross_talk: float,
    single_pe_spread: float,
) -> None:
    """
    Add Poisson NSB photo-electrons to ``waveform`` (n_pixels, n_samples), in place.

    Each p.e. is the unit-height pulse template times ``amplitude`` (R1 units of one
    p.e. pulse height), times ``1 + Poisson(cross_talk)`` and ``1 + N(0, spread)``.
    """
    n_pixels, n_samples = waveform.shape
    start = -NSB_LEAD_NS
    window = n_samples * sample_ns + NSB_TRAIL_NS - start
    n_pe = rng.poisson(rate_mhz * 1e-3 * window, n_pixels)
    total = int(n_pe.sum())
    if total == 0:
        return
    pixel = np.repeat(np.arange(n_pixels, dtype=np.int64), n_pe)
    time_ns = start + window * rng.random(total)
    amp = (1.0 + rng.poisson(cross_talk, total)) * (
        1.0 + single_pe_spread * rng.standard_normal(total)
    )
    add_pulses(waveform, pixel, time_ns, amp * amplitude, sample_ns, PULSE_TABLE)


def gain_drop_noise(
    noise_r1: float,
    mc_rate_mhz: float,
    extra_rate_mhz: float,
    efficiency_factor: float,
    voltage_drop_scale_mhz: float,
    extra_noise: float = 0.0,
) -> float:
    """
    Gaussian noise per sample to add (R1 units) so that the electronic noise of a MC
    at ``mc_rate_mhz``, scaled by ``efficiency_factor``, becomes that of the gain left
    at ``mc_rate_mhz + extra_rate_mhz`` after calibration, plus ``extra_noise``.

    ``noise_r1`` is the electronic noise in R1 units at full gain.
    """
    g_mc = 1.0 / (1.0 + mc_rate_mhz / voltage_drop_scale_mhz)
    g_night = 1.0 / (1.0 + (mc_rate_mhz + extra_rate_mhz) / voltage_drop_scale_mhz)
    variance = (noise_r1 / g_night) ** 2 - (efficiency_factor * noise_r1 / g_mc) ** 2
    return float(np.sqrt(max(variance, 0.0) + extra_noise**2))


def modify_waveform(
    waveform: np.ndarray,
    rng: np.random.Generator,
    camera: CameraResponse,
    extra_rate_mhz: float,
    mc_rate_mhz: float,
    efficiency_factor: float = 1.0,
    extra_noise_pe: float = 0.0,
) -> np.ndarray:
    """
    The modified copy (float32) of an R1 ``waveform`` (n_pixels, n_samples): scaled by
    ``efficiency_factor``, extra NSB p.e. and the voltage-drop noise (module docstring),
    with the pulse, p.e. spectrum and noise of the ``camera`` model.
    """
    out = np.asarray(waveform, dtype=np.float32) * np.float32(efficiency_factor)
    pe_height = camera.r1_scale
    add_nsb_pulses(
        out,
        rng,
        extra_rate_mhz,
        camera.sample_ns,
        pe_height,
        camera.cross_talk,
        camera.single_pe_spread,
    )
    # DC coupling: the calibration subtracts the baseline with its NSB shift (the mean
    # of the NSB pulses), as the simulator's R1 and R0R1Calibrator do
    out -= np.float32(extra_rate_mhz * 1e-3 * (1 + camera.cross_talk) * PULSE_AREA_NS * pe_height)
    sigma = gain_drop_noise(
        camera.electronic_noise_adc / camera.gain_adc_per_pe * pe_height,
        mc_rate_mhz,
        extra_rate_mhz,
        efficiency_factor,
        camera.voltage_drop_scale_mhz,
        extra_noise_pe * pe_height,
    )
    if sigma > 0:
        out += np.float32(sigma) * rng.standard_normal(out.shape, dtype=np.float32)
    return out


class NSBWaveformModifier(TelescopeComponent):
    """Extra NSB, voltage-drop noise and efficiency scaling of simulated R1 waveforms."""

    enabled = Bool(False, help="Modify the R1 waveforms (simulations tuned to a night)").tag(
        config=True
    )
    extra_nsb_rate_mhz = NonNegativeFloatTelescopeParameter(
        default_value=0.0, help="NSB p.e. rate added per pixel (MHz)"
    ).tag(config=True)
    mc_nsb_rate_mhz = NonNegativeFloatTelescopeParameter(
        default_value=40.0,
        help="NSB p.e. rate per pixel the MC was simulated with (MHz; its voltage drop)",
    ).tag(config=True)
    efficiency_factor = NonNegativeFloatTelescopeParameter(
        default_value=1.0, help="Factor on the simulated waveforms (optical efficiency)"
    ).tag(config=True)
    extra_noise_pe = NonNegativeFloatTelescopeParameter(
        default_value=0.0,
        help="Extra Gaussian noise per sample, in units of the one-p.e. pulse height",
    ).tag(config=True)
    seed = Int(0, min=0, help="Seed of the random numbers (with obs, event and tel id)").tag(
        config=True
    )
    modify_observed_data = Bool(
        False,
        help=(
            "Also modify observed runs (tests, benchmarks: a dark run standing in for MC "
            "with pedestal events). Otherwise observed data are not modified and the "
            "tuning is only recorded in their DL1 fingerprint"
        ),
    ).tag(config=True)

    def __init__(self, subarray, is_simulation=True, config=None, parent=None, **kwargs):
        super().__init__(subarray=subarray, config=config, parent=parent, **kwargs)
        #: whether the waveforms are modified (enabled, and simulated or forced)
        self.active = self.enabled and (is_simulation or self.modify_observed_data)
        if self.enabled and not self.active:
            self.log.info(
                "observed data: waveforms not modified; the MC tuning is recorded in the "
                "DL1 fingerprint, so that models and IRFs of the tuned MC apply"
            )
        tel = subarray.tel[subarray.tel_ids[0]]
        #: the camera model (its traits are the simulator's CameraResponse settings)
        self.camera_model = CameraResponse(
            tel.camera.readout, tel.camera.geometry.n_pixels, parent=self
        )
        self._cameras: dict[str, CameraResponse] = {}

    def _camera(self, tel_id: int) -> CameraResponse:
        camera = self.subarray.tel[tel_id].camera
        if camera.name not in self._cameras:
            self._cameras[camera.name] = CameraResponse(
                camera.readout, camera.geometry.n_pixels, parent=self
            )
        return self._cameras[camera.name]

    def modify(self, waveform: np.ndarray, tel_id: int, obs_id: int, event_id: int) -> np.ndarray:
        """The modified copy (float32) of one telescope's R1 ``waveform`` (n_pix, n_samp)."""
        camera = self._camera(tel_id)
        return modify_waveform(
            waveform,
            np.random.default_rng([self.seed, int(obs_id), int(event_id), int(tel_id)]),
            camera,
            extra_rate_mhz=self.extra_nsb_rate_mhz.tel[tel_id],
            mc_rate_mhz=self.mc_nsb_rate_mhz.tel[tel_id],
            efficiency_factor=self.efficiency_factor.tel[tel_id],
            extra_noise_pe=self.extra_noise_pe.tel[tel_id],
        )

    def __call__(self, event) -> None:
        """Modify the R1 waveforms of every telescope of ``event`` (per-event engines)."""
        if not self.active:
            return
        obs_id, event_id = event.index.obs_id, event.index.event_id
        for tel_id, r1 in event.r1.tel.items():
            if r1.waveform is None:
                continue
            waveform = np.asarray(r1.waveform)
            if waveform.ndim == 3:
                r1.waveform = np.stack(
                    [self.modify(channel, tel_id, obs_id, event_id) for channel in waveform]
                )
            else:
                r1.waveform = self.modify(waveform, tel_id, obs_id, event_id)

    def modify_chunk(self, chunk):
        """
        The `~iactpipe.batch.reader.R1Chunk` with modified samples (batch engines):
        decoded to float32, one sample block in row order, offset 0 and scale 1.
        """
        if not self.active:
            return chunk
        n_rows = len(chunk.tel_id)
        n_pixels = self._camera(int(chunk.tel_id[0])).n_pixels
        size = n_pixels * chunk.n_samples
        blocks = [
            (rows[:, start : start + size].astype(np.float32) - chunk.offset) / chunk.scale
            for rows, start in chunk.samples
        ]
        samples = np.concatenate(blocks).reshape(n_rows, n_pixels, chunk.n_samples)
        for i in range(n_rows):
            samples[i] = self.modify(
                samples[i], int(chunk.tel_id[i]), chunk.obs_id[i], chunk.event_id[i]
            )
        return dataclasses.replace(
            chunk,
            samples=[(np.ascontiguousarray(samples.reshape(n_rows, size)), 0)],
            offset=0.0,
            scale=1.0,
            codes=(),
        )
