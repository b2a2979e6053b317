"""Throughput of the order file import (preview + confirm) on the configured database.

    python benchmarks/bench_orders_import.py [--rows 10000]

Generates a realistic merchant file, runs the real import services, prints rows per second,
then deletes what it wrote. Target: >= 2,000 rows/s on PostgreSQL for 10,000 rows.
Then times the refusal of an XLSX bomb (200 kB unpacking to 200 MB of shared strings) and of
a sheet declaring a million blank rows, with the peak Python memory of each.
"""

import argparse
import datetime as dt
import time
import uuid

from _django import purge, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows (parcels) in the file")
    args = parser.parse_args()
    vendor = setup()

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from lastmile.hubs.models import Hub
    from lastmile.hubs.services import hub_create
    from lastmile.orders.demo import demo_order_file
    from lastmile.orders.models import Order, OrderImport
    from lastmile.orders.services import order_import_confirm, order_import_preview
    from lastmile.partners.services import partner_create

    tag = uuid.uuid4().hex[:6]
    hub = Hub.objects.filter(code="BENCH-HUB").first() or hub_create(
        name="Benchmark hub",
        code="BENCH-HUB",
        address="Benchmark",
        latitude=52.5,
        longitude=13.4,
        time_zone="Europe/Berlin",
    )
    partner = partner_create(name=f"Benchmark {tag}", slug=f"bench-{tag}")
    day = timezone.localdate() + dt.timedelta(days=3)
    # About 1.7 parcels per order: generate enough orders, keep the first --rows rows.
    lines = demo_order_file(partner=partner, hub=hub, day=day, count=args.rows).splitlines(
        keepends=True
    )
    content = b"".join(lines[: args.rows + 1])
    rows = args.rows
    try:
        started = time.perf_counter()
        order_import, parsed = order_import_preview(
            partner=partner, hub=hub, upload=SimpleUploadedFile("bench.csv", content)
        )
        previewed = time.perf_counter()
        order_import = order_import_confirm(order_import=order_import)
        finished = time.perf_counter()
        assert not parsed.errors, parsed.errors[:5]
        orders = order_import.created_order_count
        preview_s, confirm_s = previewed - started, finished - previewed
        print(
            f"ORDER_IMPORT db={vendor} rows={rows} orders={orders} "
            f"preview_s={preview_s:.2f} confirm_s={confirm_s:.2f} "
            f"preview_rows_per_s={rows / preview_s:.0f} confirm_rows_per_s={rows / confirm_s:.0f} "
            f"end_to_end_rows_per_s={rows / (preview_s + confirm_s):.0f}"
        )
        _bench_refusals(partner=partner, hub=hub)
    finally:
        purge(Order.objects.filter(partner=partner))
        purge(OrderImport.objects.filter(partner=partner))
        purge(type(partner).objects.filter(pk=partner.pk))


def _bench_refusals(*, partner, hub) -> None:
    import io
    import tracemalloc

    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import Workbook

    from lastmile.core.errors import ValidationFailed
    from lastmile.orders.importing import REQUIRED_COLUMNS
    from lastmile.orders.services import order_import_preview
    from tests.orders.test_import import shared_strings_bomb

    workbook = Workbook()
    workbook.active.append(list(REQUIRED_COLUMNS))
    workbook.active.cell(row=1_000_000, column=1, value="far away")
    sparse = io.BytesIO()
    workbook.save(sparse)
    for label, content in (("bomb", shared_strings_bomb()), ("blank_rows", sparse.getvalue())):
        tracemalloc.start()
        started = time.perf_counter()
        try:
            order_import_preview(
                partner=partner, hub=hub, upload=SimpleUploadedFile("orders.xlsx", content)
            )
            outcome = "ACCEPTED"
        except ValidationFailed as exc:
            outcome = exc.errors["file"][0]
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"ORDER_IMPORT_REFUSAL kind={label} file_kb={len(content) // 1024} "
            f"refused_in_s={elapsed:.3f} peak_python_mb={peak / 1_048_576:.1f} "
            f"outcome={outcome!r}"
        )


if __name__ == "__main__":
    main()
