"""Pixel charge histograms (the ``--px-charges`` capability) and their DL1 tables."""

import numpy as np
import pytest

from iactpipe.calib.pixel_charges import PixelChargeHistograms, histogram_std


def test_histograms_count_pedestal_and_all_events():
    rng = np.random.default_rng(1)
    hist = PixelChargeHistograms(min_charge_pe=-10, max_charge_pe=30, n_bins=400)
    for i in range(20):
        hist.add(21, rng.normal(0.5, 2.0, 1296), is_pedestal=i % 2 == 0)
    hist.add(21, np.array([np.nan, -50.0, 500.0]), is_pedestal=False)
    table = hist.to_tables()[21]
    assert table["pedestal_counts"].sum() == 10 * 1296
    # NaN not counted; under- and overflow in the edge bins
    assert table["all_counts"].sum() == 20 * 1296 + 2
    assert table["all_counts"][0] >= 1 and table["all_counts"][-1] == 1
    std = histogram_std(table["charge_low"], table["charge_high"], table["pedestal_counts"])
    # 12960 Gaussian values: the sample std is within 2 % of 2.0 (about 3 sigma)
    assert std == pytest.approx(2.0, rel=0.02)


def test_disabled_and_bad_range():
    hist = PixelChargeHistograms(enabled=False)
    hist.add(1, np.zeros(10), is_pedestal=True)
    assert hist.to_tables() == {}
    with pytest.raises(ValueError, match="max_charge_pe"):
        PixelChargeHistograms(min_charge_pe=5.0, max_charge_pe=1.0)
    assert np.isnan(histogram_std(np.zeros(2), np.ones(2), np.zeros(2)))


def test_data_mc_overlay(tmp_path):
    """The DQM's overlay: the run's pixel charge histograms with the paired MC telescope's."""
    from ctapipe.io import write_table

    from iactpipe.io.dataformat import DL1_PIXEL_CHARGES_GROUP, tel_node
    from iactpipe.io.pixel_charges import read_pixel_charges
    from iactpipe.plotting.tuning import plot_pixel_charge_overlay

    rng = np.random.default_rng(2)
    data, mc = tmp_path / "run7.dl1.h5", tmp_path / "mc.h5"
    for path, tel_id, sigma in ((data, 21, 2.0), (mc, 1, 1.0)):
        hist = PixelChargeHistograms()
        for _ in range(5):
            hist.add(tel_id, rng.normal(0, sigma, 1296), is_pedestal=True)
        write_table(hist.to_tables()[tel_id], path, tel_node(DL1_PIXEL_CHARGES_GROUP, tel_id))
    # data telescope 21 pairs with MC telescope 1
    assert read_pixel_charges(mc, 21) is None
    paired = read_pixel_charges(mc, 21, paired=True)
    assert paired["pedestal_counts"].sum() == 5 * 1296
    figure = plot_pixel_charge_overlay(read_pixel_charges(data, 21), paired)
    legends = [t.get_text() for ax in figure.axes for t in ax.get_legend().get_texts()]
    assert legends == ["data (pedestal_counts)", "MC (pedestal_counts)"] * 1 + [
        "data (all_counts)",
        "MC (all_counts)",
    ]
