"""
The batch engine on zstd-compressed DigiCam zfits (what ``iactpipe-simulate --format
zfits`` writes), decoded by tiles (`ZFitsTable`) rather than through protozfits.

A run of two files (8 + 6 events 0.3 s apart, tiles of 5 rows: chunks cross tiles and
files) with shower-like images, interleaved pedestal events and the pointing in the
header, written by `DigiCamZFitsWriter`:

- `ZFitsChunkReader` by tiles equals its protozfits path, chunk by chunk;
- every DL1 table of ``--engine=batch`` equals the per-event engine's, the pointing
  recorded once per second included;
- R0R1Calibrator settings given under ``SST1MEventSource.R0R1Calibrator`` reach both
  engines (the per-event one through the source, the batch one through its calibrator).
"""

import numpy as np
import pytest
import tables

from iactpipe.batch.zfits import ZFitsChunkReader
from iactpipe.instrument import sst1m_subarray
from iactpipe.io.digicam import SST1MEventSource, run_files
from iactpipe.io.digicam.tiles import ZFitsTable
from iactpipe.io.zfits_writer import DigiCamZFitsWriter, RawEvent

from .test_engine import _run, assert_same_tables

TEL_ID = 21
START_NS = 1_704_920_000 * 1_000_000_000  # 2024-01-10, night at Ondřejov
DC_TO_PE = 23.6  # R0R1Calibrator's default pulse height of one p.e. (ADC)


def _shower_events(n_events: int, rng) -> list[RawEvent]:
    """Gaussian blobs of 40-200 p.e. (peak 23.6 ADC per p.e.), every 4th a pedestal."""
    geometry = sst1m_subarray().tel[TEL_ID].camera.geometry
    x, y = geometry.pix_x.to_value("m"), geometry.pix_y.to_value("m")
    events = []
    for i in range(n_events):
        baseline = 330 + rng.normal(0, 1, len(x))  # NSB: above the dark 300 ADC
        samples = baseline[:, None] + rng.normal(0, 2.5, (len(x), 50))
        pedestal = i % 4 == 0
        if not pedestal:
            cx, cy = rng.uniform(-0.2, 0.2, 2)
            r2 = ((x - cx) / 0.04) ** 2 + ((y - cy) / 0.015) ** 2
            charge = rng.uniform(40, 200) * np.exp(-0.5 * r2) / (2 * np.pi * 0.04 * 0.015 / 5e-4)
            # a time gradient along the image, as showers have (3 samples per 0.1 m)
            peak = 20 + 30 * (x - cx)
            pulse = np.exp(-0.5 * ((np.arange(50) - peak[:, None]) / 1.5) ** 2)
            samples += charge[:, None] * DC_TO_PE * pulse
        events.append(
            RawEvent(
                samples=np.clip(np.round(samples), 0, 4095).astype(np.uint16),
                baseline_adc=baseline,
                event_number=1000 + i,
                array_event_number=0,
                camera_event_type=8 if pedestal else 1,
                local_time_ns=START_NS + 300_000_000 * i,
                white_rabbit_time_ns=START_NS + 300_000_000 * i + 11,
            )
        )
    return events


@pytest.fixture(scope="module")
def zfits_run(tmp_path_factory):
    stem = tmp_path_factory.mktemp("zfits_tiles") / "SST1M1_20240110_0042"
    header = {"TARGET": ("Crab_W1_83.633_22.014", "target_ra_dec"), "TELID": TEL_ID}
    options = dict(events_per_file=8, rows_per_tile=5, header=header)
    with DigiCamZFitsWriter(stem, TEL_ID, **options) as writer:
        for event in _shower_events(14, np.random.default_rng(7)):
            writer.write(event)
    assert len(writer.paths) == 2
    return writer.paths[0]


@pytest.mark.parametrize(("chunk_size", "max_events"), [(3, None), (7, 11), (100, None)])
def test_tiles_equal_protozfits_path(zfits_run, monkeypatch, chunk_size, max_events):
    paths = run_files(zfits_run)
    tiles = ZFitsChunkReader(paths, chunk_size, max_events)
    by_tiles = list(tiles)
    assert set(tiles.fallback_reasons.values()) == {None}
    monkeypatch.setattr(ZFitsTable, "unsupported", lambda self, names: "forced")
    by_messages = list(ZFitsChunkReader(paths, chunk_size, max_events))
    n_events = 14 if max_events is None else max_events
    sizes = [chunk_size] * (n_events // chunk_size) + [n_events % chunk_size] * bool(
        n_events % chunk_size
    )
    assert [len(c.event_id) for c in by_tiles] == sizes
    assert [len(c.event_id) for c in by_messages] == sizes
    for ours, reference in zip(by_tiles, by_messages, strict=True):
        for name in ("event_id", "camera_event_type", "time_ns", "samples", "order"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(reference, name))
        np.testing.assert_array_equal(ours.baselines, reference.baselines)
        assert ours.telescope_id == reference.telescope_id == TEL_ID
        assert ours.samples.flags.writeable and ours.samples.flags.c_contiguous
    assert by_tiles[0].event_id[0] == 1000  # the camera counter (no array event number)
    # decoded into reused buffers: each chunk right while it is the current one
    reused = ZFitsChunkReader(paths, chunk_size, max_events, reuse_buffers=True)
    samples = [chunk.samples for chunk in reused]
    for ours, reference in zip(samples, by_messages, strict=True):
        np.testing.assert_array_equal(ours, reference.samples)
    assert len(reused._buffers) <= 3  # not one per tile


def _intensity(path) -> np.ndarray:
    with tables.open_file(path) as h5:
        node = h5.get_node(f"/dl1/event/telescope/parameters/tel_{TEL_ID:03d}")
        return node.col("hillas_intensity")


def test_batch_equals_per_event_engine(zfits_run, tmp_path):
    reference = _run(zfits_run, tmp_path / "ctapipe.dl1.h5", ["--engine=ctapipe"])
    batch = _run(zfits_run, tmp_path / "batch.dl1.h5", ["--engine=batch", "--chunk-size=4"])
    assert_same_tables(reference, batch)  # the pointing table too: 0.3 s apart, 4 s
    with tables.open_file(batch) as h5:
        pointing = h5.get_node(f"/dl0/monitoring/telescope/pointing/tel_{TEL_ID:03d}").read()
    assert len(pointing) >= 5 and np.ptp(pointing["azimuth"]) > 0  # sampled once per second
    intensity = _intensity(batch)
    assert len(intensity) == 14
    with SST1MEventSource(zfits_run) as source:
        assert source.telescope_id == TEL_ID and source.stored_baseline_scale == 16
    # images: showers after the first pedestal statistics (the SST cleaner's thresholds)
    assert np.isfinite(intensity).sum() >= 5


def _pedestal_std(path) -> float:
    """Camera median of the pedestal monitor's charge spread (p.e.): no cleaning involved."""
    group = "/dl1/monitoring/telescope/calibration/camera/pixel_statistics/sky_pedestal_image"
    with tables.open_file(path) as h5:
        return float(np.median(h5.get_node(f"{group}/tel_{TEL_ID:03d}").col("std")))


def test_source_calibrator_settings_reach_both_engines(zfits_run, tmp_path):
    """
    dc_to_pe doubled under SST1MEventSource.R0R1Calibrator: half the pedestal spread in
    p.e. in both engines, times g(dc) / g(2 dc) of the voltage-drop correction (30 ADC
    of baseline shift: a gain factor of 0.9-1), hence a ratio in [0.45, 0.5].
    """
    changed = [f"--SST1MEventSource.R0R1Calibrator.dc_to_pe={2 * DC_TO_PE}"]
    default = _pedestal_std(_run(zfits_run, tmp_path / "default.dl1.h5", ["--engine=batch"]))
    runs = {}
    for engine in ("ctapipe", "batch"):
        out = tmp_path / f"{engine}.dl1.h5"
        runs[engine] = _run(zfits_run, out, [f"--engine={engine}", *changed])
        ratio = _pedestal_std(runs[engine]) / default
        assert 0.45 <= ratio <= 0.5, (engine, ratio)
    assert_same_tables(runs["ctapipe"], runs["batch"])
