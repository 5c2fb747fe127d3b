"""
The floors of the batch engine's stages, each measured alone: CPU per telescope event.

What a whole run of ``iactpipe-r0-dl1 --engine=batch`` would have to fit in for issue
23's targets (30x ``ctapipe-process`` on HDF5 R1: about 105 us per telescope event at
300 events per CPU second; 10x on zfits: about 330 us), measured in isolation on the
same inputs as ``r1_dl1_throughput.py``:

    .venv/bin/python benchmarks/r1_dl1_floors.py [--hdf5 FILE] [--zfits FILE] [--repeat 5]

HDF5 R1 (a simulated file, uncompressed R1 tables with Fletcher-32, chunks of 3 rows):
the R1 tables' bytes copied from the page cache (``os.pread``, no HDF5); the rows read
and verified as the engine reads them (raw chunks, vectorised Fletcher-32); the rows
read by PyTables (``Table.read``); one pass over the samples in place (per pixel the
maximum and the sum: the memory-bandwidth floor of touching 1296 x 50 samples); the
``LocalPeakWindowSum`` kernel on rows in memory; writing the parameter rows with the
output's filters (blosc:zstd level 5, shuffle, Fletcher-32, ctapipe's DataWriter
defaults). zfits: the zstd decompression of the samples column alone; the fused
R0 -> charges kernel on the decoded tiles; decoding and the kernel together, the
whole tile decoded into a reused 13 MB buffer against the zstd frame streamed in
pieces of 16, 8, 4 events into a small reused buffer, the kernel run on each piece
while it is in cache (interleaved rounds, outputs compared bit for bit). Both: whole
batch runs (SST-1M defaults) of all events and of one event (the fixed costs of a
run), and writing the whole run's parameter rows again with the output's filters.
Best and median of ``--repeat`` rounds after a warm-up.

Decoding in pieces does not pay (issue 23, 2026-12-07, 2-core machine, load 1.3 to 2.4,
best of 3-5 interleaved rounds, three files of 1000 events): whole tiles 167-174 us per
event, pieces of 16 events 176-184, of 8 179-190, of 4 180-191. The decoding alone
costs the same either way (zstd streams a piece through its 512 kB window and copies it
out: 104-105 against 106 us); the kernel gains at most 4 us in cache (55-56 against
59-60 us on a 13 MB tile, which the 480 MB L3 of this machine holds anyway), less than
the copy and a kernel call per piece cost.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tables
import zstandard
from ctapipe.core import Provenance, run_tool
from numba import njit

from iactpipe.batch.checksum import ChunkedRowReader
from iactpipe.batch.extraction import extract_local_peak
from iactpipe.batch.r0_extraction import extract_r0_rows, flat_rows
from iactpipe.batch.reader import R1_GROUP, _as_samples
from iactpipe.io.digicam import run_files
from iactpipe.io.digicam.pixel_mapping import software_order
from iactpipe.io.digicam.tiles import ZFitsTable
from iactpipe.tools.r0_dl1 import R0DL1Tool

#: blosc:zstd level 5 with shuffle and Fletcher-32: what the DL1 tables are written with
OUTPUT_FILTERS = tables.Filters(complevel=5, complib="blosc:zstd", shuffle=True, fletcher32=True)


@njit(cache=True)
def touch_samples(samples, start, n_pixels, n_samples):
    """Per row and pixel the maximum and the sum of the samples: one pass, in place."""
    total = 0
    for row in range(samples.shape[0]):
        for pixel in range(n_pixels):
            first = start + pixel * n_samples
            wf = samples[row, first : first + n_samples]
            best = wf[0]
            acc = 0
            for s in range(n_samples):
                best = max(best, wf[s])
                acc += wf[s]
            total += acc + best
    return total


def timed(function, repeat: int, n_events: int) -> tuple[float, float]:
    """Best and median CPU time per event (us) of ``function()`` over ``repeat`` rounds."""
    function()  # warm-up: compilation, page cache
    seconds = []
    for _ in range(repeat):
        start = time.process_time()
        function()
        seconds.append(time.process_time() - start)
    return min(seconds) / n_events * 1e6, float(np.median(seconds)) / n_events * 1e6


def report(label: str, floor: tuple[float, float]) -> None:
    print(f"  {label:<58s} {floor[0]:7.1f} us  (median {floor[1]:7.1f})")


def hdf5_floors(path: Path, workdir: Path, repeat: int) -> None:
    """The floors of reading, touching, extracting and writing HDF5 R1 rows."""
    with tables.open_file(path) as h5:
        r1 = [t for t in h5.get_node(R1_GROUP)._f_iter_nodes("Table")]
        n_events = sum(t.nrows for t in r1)
        print(f"\nHDF5 R1 {path.name}: {n_events} telescope events, floors per event:")
        report(
            "page cache copy of the file (os.pread, no HDF5)", timed(_pread(path), repeat, n_events)
        )
        report(
            "R1 rows read and verified as the engine does",
            timed(_engine_read(r1), repeat, n_events),
        )
        report("R1 rows read by PyTables (Table.read)", timed(_pytables_read(r1), repeat, n_events))
        rows = r1[0].read(0, min(r1[0].nrows, 400))
        samples, start = _as_samples(rows)
        n_pixels, n_samples = rows.dtype["waveform"].shape[1:]

        def touch():
            touch_samples(samples, start, n_pixels, n_samples)

        report("one pass over the samples in memory (max, sum)", timed(touch, repeat, len(rows)))
        settings = [np.full(len(rows), v) for v in (7, 3)] + [
            np.full(len(rows), v) for v in (0.25, 1.0)
        ]

        def extract():
            extract_local_peak(samples, start, n_pixels, n_samples, 0.0, 1.0, *settings)

        report("LocalPeakWindowSum kernel on rows in memory", timed(extract, repeat, len(rows)))
    dl1 = whole_runs(path, workdir, repeat)
    report(
        "writing its parameter rows (blosc:zstd 5, Fletcher-32)", _write_floor(dl1, workdir, repeat)
    )


def _pread(path: Path):
    def read():
        fd = os.open(path, os.O_RDONLY)
        try:
            buffer = bytearray(64 << 20)
            view, offset = memoryview(buffer), 0
            while n := os.preadv(fd, [view], offset):
                offset += n
        finally:
            os.close(fd)

    return read


def _engine_read(r1_tables: list):
    def read():
        for table in r1_tables:
            reader = ChunkedRowReader(table)
            buffer = reader.buffer(200)
            for first in range(0, table.nrows, 200):
                reader.read(first, min(first + 200, table.nrows), buffer)

    return read


def _pytables_read(r1_tables: list):
    def read():
        for table in r1_tables:
            out = np.empty(200, dtype=table.dtype)
            for first in range(0, table.nrows, 200):
                last = min(first + 200, table.nrows)
                table.read(first, last, out=out[: last - first])

    return read


def _write_floor(dl1: Path, workdir: Path, repeat: int) -> tuple[float, float]:
    """Append the parameter rows of a DL1 file again (200 at a time) into a new file."""
    with tables.open_file(dl1) as h5:
        group = h5.get_node("/dl1/event/telescope/parameters")
        rows = np.concatenate([t.read() for t in group._f_iter_nodes("Table")])
    path = workdir / "write_floor.h5"

    def write():
        with tables.open_file(path, "w") as h5:
            table = h5.create_table("/", "p", description=rows.dtype, filters=OUTPUT_FILTERS)
            for first in range(0, len(rows), 200):
                table.append(rows[first : first + 200])

    return timed(write, repeat, len(rows))


def zfits_floors(path: Path, workdir: Path, repeat: int) -> None:
    """The floors of decompressing and extracting the samples of a zfits run."""
    files = run_files(path)
    with ZFitsTable(files[0]) as table:
        n_events = table.n_rows
        print(f"\nzfits {path.name} (first file: {n_events} events), floors per event:")

        def decompress():
            for tile in range(table.n_tiles):
                table.read("hiGain_waveforms_samples", tile)

        report("zstd decompression of the samples column", timed(decompress, repeat, n_events))
        block = table.read("hiGain_waveforms_samples", 0)
        indices = table.read("hiGain_waveforms_pixelsIndices", 0)
        order = np.array([software_order(row) for row in indices], dtype=np.int64)
        baselines = table.read("hiGain_waveforms_baselines", 0)
    n, n_pixels = order.shape
    flat, row_start = flat_rows(block.view(np.uint16))
    good = np.ones(n_pixels, dtype=bool)
    ones = np.ones(n_pixels)
    per_row = [np.full(n, v) for v in (7, 3)] + [np.full(n, v) for v in (0.25, 1.0)]
    charge, peak_time = np.empty((n, n_pixels), np.float32), np.empty((n, n_pixels), np.float32)

    def fused():
        extract_r0_rows(
            flat, row_start, block.shape[1] // n_pixels, order, baselines, 16.0, ones * 0.2,
            good, ones * 300.0, ones * 1000.0, 1, 0.1, 2.5, *per_row, charge, peak_time,
        )  # fmt: skip

    report("fused R0 -> charges kernel on a decoded tile (in place)", timed(fused, repeat, n))
    kernel = (16.0, ones * 0.2, good, ones * 300.0, ones * 1000.0, 1, 0.1, 2.5)
    _streamed_floors(files[0], kernel, repeat)
    dl1 = whole_runs(path, workdir, repeat)
    report(
        "writing its parameter rows (blosc:zstd 5, Fletcher-32)", _write_floor(dl1, workdir, repeat)
    )


def _compressed_samples(path: Path) -> tuple[list[bytes], list, list, int]:
    """
    Per tile of the first file: the zstd frame of the samples column (the block's
    header skipped), the software order, the baselines; and the bytes of a row.
    """
    frames, orders, baselines = [], [], []
    with ZFitsTable(path) as table, open(path, "rb") as f:
        column = table.columns["hiGain_waveforms_samples"]
        for tile in range(table.n_tiles):
            size, offset = table.catalog[tile, column.index]
            f.seek(table.heap + int(offset))
            block = f.read(int(size))
            frames.append(block[10 + 2 * block[9] :])  # uint64 size, ordering, processings
            indices = table.read("hiGain_waveforms_pixelsIndices", tile)
            orders.append(np.array([software_order(row) for row in indices], dtype=np.int64))
            baselines.append(np.array(table.read("hiGain_waveforms_baselines", tile)))
        row_bytes = table.read("hiGain_waveforms_samples", 0).strides[0]
    return frames, orders, baselines, row_bytes


def _streamed_floors(path: Path, kernel: tuple, repeat: int) -> None:
    """
    Decoding and the fused kernel together, per tile: the whole tile decoded into a
    reused buffer (13 MB), then the kernel; or the zstd frame streamed in pieces of
    ``k`` events into a small reused buffer, the kernel run on each piece while it is
    in cache. The outputs are compared (bit for bit).
    """
    frames, orders, baselines, row_bytes = _compressed_samples(path)
    decompressor = zstandard.ZstdDecompressor()
    n_pixels = orders[0].shape[1]
    n_samples = (row_bytes - 4) // 2 // n_pixels

    def run(k: int) -> list:
        buffer = np.empty(k * row_bytes, dtype=np.uint8)
        out = []
        for frame, order, stored in zip(frames, orders, baselines, strict=True):
            reader = decompressor.stream_reader(frame, read_size=len(frame))
            for first in range(0, len(order), k):
                m = min(k, len(order) - first)
                target, n = memoryview(buffer)[: m * row_bytes], 0
                while n < len(target) and (got := reader.readinto(target[n:])):
                    n += got
                rows = buffer[: m * row_bytes].reshape(m, row_bytes)[:, 4:].view(np.uint16)
                flat, row_start = flat_rows(rows)
                per_row = [np.full(m, v) for v in (7, 3)] + [np.full(m, v) for v in (0.25, 1.0)]
                charge = np.empty((m, n_pixels), np.float32)
                peak_time = np.empty_like(charge)
                rows_of = slice(first, first + m)
                extract_r0_rows(
                    flat, row_start, n_samples, order[rows_of], stored[rows_of], *kernel,
                    *per_row, charge, peak_time,
                )  # fmt: skip
                out.append((charge, peak_time))
        return [np.concatenate(values) for values in zip(*out, strict=True)]

    n_events = sum(len(order) for order in orders)
    whole = run(max(len(order) for order in orders))
    for k in (4, 8, 16):
        for got, wanted in zip(run(k), whole, strict=True):
            np.testing.assert_array_equal(got, wanted)
    # interleaved rounds: the load of the machine changes in between
    pieces = (len(orders[0]), 16, 8, 4)
    seconds = {k: [] for k in pieces}
    for _ in range(repeat):
        for k in pieces:
            start = time.process_time()
            run(k)
            seconds[k].append(time.process_time() - start)
    for k in pieces:
        label = f"decoding + fused kernel, pieces of {k} events"
        report(label, (min(seconds[k]) / n_events * 1e6, np.median(seconds[k]) / n_events * 1e6))


def whole_runs(path: Path, workdir: Path, repeat: int) -> Path:
    """
    CPU of whole batch runs (SST-1M defaults) of all events and of one event (the
    fixed costs of a run: set-up, tables, finish); returns the DL1 file of all events.
    """
    out = workdir / f"{path.name}.dl1.h5"
    log = f"--Tool.provenance_log={workdir / 'floors.provenance.log'}"
    for label, extra in (("whole run, per event", []), ("a whole run of 1 event", ["-m", "1"])):
        argv = [f"--input={path}", f"--output={out}", log, *extra]

        def run(argv=argv):
            out.unlink(missing_ok=True)
            Provenance().clear()
            run_tool(R0DL1Tool(), argv, raises=True)

        if not extra:
            run()
            with tables.open_file(out) as h5:
                group = h5.get_node("/dl1/event/telescope/parameters")
                n_events = sum(t.nrows for t in group._f_iter_nodes("Table"))
            report(f"{label} ({n_events} telescope events)", timed(run, repeat, n_events))
            whole = workdir / "whole.dl1.h5"
            out.rename(whole)
        else:
            best, median = timed(run, repeat, 1)
            print(f"  {label:<58s} {best / 1e3:7.1f} ms  (median {median / 1e3:7.1f})")
    return whole


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--hdf5", type=Path)
    parser.add_argument("--zfits", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.hdf5:
            hdf5_floors(args.hdf5, workdir, args.repeat)
        if args.zfits:
            zfits_floors(args.zfits, workdir, args.repeat)


if __name__ == "__main__":
    main()
