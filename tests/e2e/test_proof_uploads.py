"""A dispatcher opens an uploaded proof in the browser: an image, never a page that runs."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from lastmile.accounts.roles import Role
from lastmile.orders import services
from lastmile.orders.models import OrderStatus
from tests.e2e.conftest import admin_login
from tests.factories import StaffFactory
from tests.orders.factories import OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_proof_png_with_a_script_tail_named_html_opens_as_an_image_and_runs_nothing(
    page, live_server
):
    # given: a delivery whose photo is a PNG with a script tail, uploaded as x.html
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "green").save(buffer, "PNG")
    polyglot = buffer.getvalue() + b"<script>alert('xss'); document.title = 'owned'</script>"
    order = OrderFactory(status=OrderStatus.OUT_FOR_DELIVERY)
    attempt = services.order_deliver(
        order=order,
        photo=SimpleUploadedFile("x.html", polyglot, content_type="text/html"),
        source="courier",
    )
    StaffFactory(username="dana", password="s3cret-pass", role=Role.DISPATCHER)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    admin_login(page, live_server, username="dana", password="s3cret-pass")

    # when: the dispatcher opens the proof
    response = page.goto(
        f"{live_server.url}/admin/orders/order/{order.pk}/proof/{attempt.pk}/photo/"
    )

    # then: Chromium shows an image; the script never ran
    assert response.headers["content-type"] == "image/png"
    assert page.evaluate("document.contentType") == "image/png"
    assert page.evaluate("document.images.length") == 1
    assert page.title() != "owned"
    assert dialogs == []
