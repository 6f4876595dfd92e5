"""Two app servers saving the same record at once: exactly one wins, nothing is merged."""

import threading

import pytest
from django.db import close_old_connections

from connections import records
from connections.models import EmailConnection
from tests.factories import make_connection


@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_from_the_same_version_let_exactly_one_win(admin_user: object) -> None:
    pk = make_connection(admin_user).pk
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def edit(n: int) -> None:
        try:
            record = EmailConnection.objects.get(pk=pk)
            record.description = f"writer {n}"
            barrier.wait(timeout=10)
            records.save_record(record, admin_user, expected_version=1)
            outcomes.append(f"saved {n}")
        except records.StaleRecord:
            outcomes.append("stale")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("saved")]
    assert len(winners) == 1, outcomes
    assert outcomes.count("stale") == 3
    stored = EmailConnection.objects.get(pk=pk)
    assert stored.version == 2
    assert stored.description == f"writer {winners[0].split()[1]}"
    assert stored.history.count() == 2
