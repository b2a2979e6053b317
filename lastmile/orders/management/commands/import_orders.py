"""``python manage.py import_orders FILE --partner SLUG --hub CODE [--dry-run] [--accept-warnings]``."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from lastmile.core.errors import ApplicationError
from lastmile.hubs.selectors import hub_get_by_code
from lastmile.orders.services import order_import_confirm, order_import_preview
from lastmile.partners.selectors import partner_get_by_slug


class Command(BaseCommand):
    help = "Import a partner's order file (CSV or XLSX): report bad rows, write the valid ones."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--partner", required=True, help="Partner slug")
        parser.add_argument("--hub", required=True, help="Hub code, e.g. BER-TH")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and write nothing"
        )
        parser.add_argument(
            "--accept-warnings",
            action="store_true",
            help="Also write the orders with warnings (implausible values you checked)",
        )

    def handle(
        self,
        *args,
        file: Path,
        partner: str,
        hub: str,
        dry_run: bool,
        accept_warnings: bool,
        **options,
    ):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            partner_obj = partner_get_by_slug(slug=partner)
            hub_obj = hub_get_by_code(code=hub)
            upload = SimpleUploadedFile(file.name, file.read_bytes())
            order_import, parsed = order_import_preview(
                partner=partner_obj, hub=hub_obj, upload=upload
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for error in parsed.errors:
            self.stderr.write(f"row {error.row}, column {error.column}: {error.message}")
        for warning in parsed.warnings:
            self.stderr.write(
                f"row {warning.row}, column {warning.column}: warning: {warning.message}"
            )
        self.stdout.write(
            f"{parsed.row_count} rows: {len(parsed.new_orders)} new orders, "
            f"{len(parsed.existing_references)} already imported, {parsed.error_rows} rows with errors, "
            f"{len(parsed.warned_references)} new orders with warnings."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing written.")
            return
        try:
            order_import = order_import_confirm(
                order_import=order_import, accept_warnings=accept_warnings
            )
        except ApplicationError as exc:
            raise CommandError(f"Nothing was imported: {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(f"Imported {order_import.created_order_count} orders.")
        )
