"""
NSB voltage drop of the SST-1M SiPMs: gain loss inferred from the baseline shift.

DigiCam is DC coupled: the night-sky background (NSB) raises the baseline by the mean
of the NSB pulses. The NSB photocurrent through the bias resistor lowers the voltage
across the SiPM cells, hence gain, cross-talk and photo-detection efficiency. With the
model of digicampipe and of ``iactpipe.simulation.CameraResponse``:

- relative gain left at an NSB (+ dark count) rate ``f``: ``g = 1 / (1 + f / f_s)``;
  ``f_s`` is ``voltage_drop_scale_mhz`` (digicampipe writes it ``1 / (R_bias C_cell)``);
- baseline shift: ``dB = f * A * D * g``, with ``D`` the pulse height per p.e.
  (``dc_to_pe``, cross-talk included) and ``A`` the area of the unit-height pulse (ns).

Eliminating ``f`` gives a relation linear in the measured shift::

    g = 1 - dB / (f_s * A * D)

so the correction needs only the baseline without NSB (dark baseline) and ``f_s``.
"""

import numpy as np

__all__ = ["gain_factor_from_baseline_shift", "nsb_rate_from_gain_factor"]


def gain_factor_from_baseline_shift(
    baseline_shift_adc: np.ndarray | float,
    dc_to_pe_adc: np.ndarray | float,
    pulse_area_ns: float,
    voltage_drop_scale_mhz: float,
    min_gain_factor: float = 0.2,
) -> np.ndarray:
    """
    Relative gain ``g`` left after the NSB voltage drop, from the baseline shift.

    Parameters
    ----------
    baseline_shift_adc : array or float
        Baseline minus dark baseline (ADC), per pixel or camera-wide.
    dc_to_pe_adc : array or float
        Pulse height of one p.e. without NSB (ADC), cross-talk included.
    pulse_area_ns : float
        Area of the unit-height pulse template (ns).
    voltage_drop_scale_mhz : float
        NSB rate at which the gain is halved (MHz).
    min_gain_factor : float
        Lower clip of ``g`` (protects against absurd baselines).

    Returns
    -------
    np.ndarray
        ``g`` in ``[min_gain_factor, 1]``; a negative shift gives 1.
    """
    scale_ghz = voltage_drop_scale_mhz * 1e-3
    full_drop = scale_ghz * pulse_area_ns * np.asarray(dc_to_pe_adc, dtype=np.float64)
    gain = 1.0 - np.asarray(baseline_shift_adc, dtype=np.float64) / full_drop
    return np.clip(gain, min_gain_factor, 1.0)


def nsb_rate_from_gain_factor(
    gain_factor: np.ndarray | float, voltage_drop_scale_mhz: float
) -> np.ndarray:
    """NSB + dark-count rate (MHz) that produces the relative gain ``gain_factor``."""
    return voltage_drop_scale_mhz * (1.0 / np.asarray(gain_factor, dtype=np.float64) - 1.0)
