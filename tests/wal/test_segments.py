"""The log's files and entries on their own: frames read back in order across segments, the
checkpoint survives a reopen, a torn tail is cut, and an entry only ever becomes records."""
from __future__ import annotations

import logging
import pickle
from decimal import Decimal

import pytest

from spanlens_pipeline.extensions.wal.config import Config
from spanlens_pipeline.extensions.wal.entry import BATCH, Entry, decode, encode, pack_batch, unpack_batch
from spanlens_pipeline.extensions.wal.loader import Loader
from spanlens_pipeline.extensions.wal.segments import HEADER, LogInUse, Position, Segments, frame
from spanlens_pipeline.model import Batch, RequestRecord, SpanRecord, Tenant, TraceRecord

MIB = 1024**2


def _read_all(seg: Segments, start: Position | None = None) -> tuple[list[bytes], Position]:
    return seg.read(start or seg.checkpoint, 1 << 30)


def test_frames_come_back_in_order_across_segments(tmp_path):
    seg = Segments(str(tmp_path), MIB, fsync=True)
    payloads = [bytes([i % 256]) * 300_000 for i in range(8)]  # ~2.4 MB: three segments
    for p in payloads:
        seg.append([frame(p)])
    assert len(list(tmp_path.glob("*.wal"))) >= 3
    got, end = _read_all(seg)
    assert got == payloads
    assert seg.pending_bytes == sum(HEADER.size + len(p) for p in payloads)
    # small reads make progress one frame at a time
    first, at = seg.read(seg.checkpoint, 1)
    assert first == payloads[:1] and at < end


def test_commit_deletes_passed_segments_and_survives_a_reopen(tmp_path):
    seg = Segments(str(tmp_path), MIB, fsync=True)
    for i in range(6):
        seg.append([frame(bytes([i]) * 400_000)])
    got, end = seg.read(seg.checkpoint, 900_000)
    assert len(got) == 2
    seg.commit(end)
    seg.append([frame(b"late")])
    seg.close()
    again = Segments(str(tmp_path), MIB, fsync=True)
    rest, _ = _read_all(again)
    assert rest == [bytes([i]) * 400_000 for i in range(2, 6)] + [b"late"]
    assert again.pending_bytes == sum(HEADER.size + len(p) for p in rest)
    _, end = _read_all(again)
    again.commit(end)
    assert again.pending_bytes == 0
    assert len(list(tmp_path.glob("*.wal"))) <= 2  # only the current segment(s) remain


def test_a_torn_tail_is_cut_and_later_appends_follow_whole_frames(tmp_path):
    seg = Segments(str(tmp_path), MIB, fsync=True)
    seg.append([frame(b"one"), frame(b"two")])
    seg.close()
    newest = max(tmp_path.glob("*.wal"))
    with open(newest, "ab") as f:
        f.write(frame(b"three")[:-2])  # a crash mid-append: never acknowledged
    with open(newest, "ab") as f:
        pass
    again = Segments(str(tmp_path), MIB, fsync=True)
    again.append([frame(b"four")])
    got, _ = _read_all(again)
    assert got == [b"one", b"two", b"four"]


def test_a_corrupted_frame_stops_the_scan_there(tmp_path):
    seg = Segments(str(tmp_path), MIB, fsync=False)
    seg.append([frame(b"good"), frame(b"flipped"), frame(b"after")])
    seg.close()
    path = max(tmp_path.glob("*.wal"))
    data = bytearray(path.read_bytes())
    data[HEADER.size * 2 + 4 + 2] ^= 0xFF  # a byte inside "flipped"
    path.write_bytes(bytes(data))
    got, _ = _read_all(Segments(str(tmp_path), MIB, fsync=False))
    assert got == [b"good"]


def test_an_entry_round_trips_with_its_tenant():
    tenant = Tenant("org", "proj", "name", "key", "sl_live_ab", "full")
    batch = Batch(spans=[SpanRecord("t" * 32, "s" * 16, name="x", cost_usd=Decimal("0.000001234"),
                                    flags=["a"], attributes={"k": [1, "v"]})])
    entry = decode(encode(Entry("ingest", BATCH, pack_batch(batch), tenant, "req-1", 12.5)))
    assert (entry.receiver, entry.kind, entry.tenant, entry.request_id, entry.received_at) == (
        "ingest", BATCH, tenant, "req-1", 12.5)
    back = unpack_batch(entry.body)
    assert back.spans == batch.spans and back.spans[0].cost_usd == Decimal("0.000001234")
    assert decode(encode(Entry("otlp", "otlp-pb", b"\x00raw", None, "", 0.0))).body == b"\x00raw"


def test_a_batch_of_every_record_kind_round_trips_as_rows():
    batch = Batch(spans=[SpanRecord("t" * 32, "s" * 16, end_time=7), SpanRecord("t" * 32, "u" * 16, name="y")],
                  traces=[TraceRecord("t" * 32, name="trace", create_metadata='{"a":1}')],
                  requests=[RequestRecord(id="r", created_at=5, model="m")],
                  resolved_ends=[("proj", "u" * 16)], rejected=2, rejected_reason="why")
    back = unpack_batch(pack_batch(batch))
    assert back == batch
    back.spans[0].flags.append("mine")  # every record has its own mutable fields
    assert back.spans[1].flags == []


def test_entries_of_the_first_format_and_of_other_fields_are_still_read():
    batch = Batch(spans=[SpanRecord("t" * 32, "s" * 16, name="old", total_tokens=3)])
    assert unpack_batch(pickle.dumps(batch)) == batch  # a pickled Batch, as the first format wrote it
    renamed = ("rows/1", ((("trace_id", "span_id", "gone_field", "name"), [("t" * 32, "s" * 16, 1, "n")]),
                          None, None), [], 0, None)
    back = unpack_batch(pickle.dumps(renamed))
    assert back.spans == [SpanRecord("t" * 32, "s" * 16, name="n")] and back.traces == []
    with pytest.raises(pickle.UnpicklingError):
        unpack_batch(pickle.dumps(("rows/9", (None, None, None), [], 0, None)))
    with pytest.raises(pickle.UnpicklingError):
        unpack_batch(pickle.dumps(("rows/1", ((("trace_id",), [(1, 2)]), None, None), [], 0, None)))


class _NotARecord:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_an_entry_cannot_unpickle_anything_but_records():
    with pytest.raises(pickle.UnpicklingError):
        unpack_batch(pickle.dumps(_NotARecord()))
    with pytest.raises(pickle.UnpicklingError):
        unpack_batch(pickle.dumps({"not": "a batch"}))


def test_one_process_at_a_time(tmp_path):
    first = Segments(str(tmp_path), MIB, fsync=False)
    with pytest.raises(LogInUse):
        Segments(str(tmp_path), MIB, fsync=False)
    first.close()
    Segments(str(tmp_path), MIB, fsync=False).close()


def test_an_unreadable_entry_is_skipped_and_the_rest_still_load(tmp_path):
    """A whole frame whose content is not an entry (e.g. written by a future version) does
    not stop the loader: it is skipped, the entries around it are read."""
    good = encode(Entry("otlp", "otlp-pb", b"x", None, "r", 1.0))
    seg = Segments(str(tmp_path), MIB, fsync=False)
    seg.append([frame(good), frame(b"\x09not an entry"), frame(good)])
    loader = Loader(seg, Config(directory=str(tmp_path)), logging.getLogger("tests.wal"))
    payloads, _ = _read_all(seg)
    assert [e.request_id for e in loader._entries(payloads)] == ["r", "r"]
