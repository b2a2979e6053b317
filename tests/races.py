"""Run calls at the same moment in threads, each on its own database connection.

For the concurrency tests on PostgreSQL (``@pytest.mark.postgres``,
``@pytest.mark.django_db(transaction=True)``): a barrier releases every thread at once, so the
calls really overlap, and each thread closes its connection when done.
"""

import threading
from collections.abc import Callable

from django.db import connection


def race(*calls: Callable[[], object], timeout_s: float = 60) -> list[object]:
    """Each call's result, or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout_s)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever happened
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    assert not any(thread.is_alive() for thread in threads), "a racing call never finished"
    return results
