"""observe/progress.py: the bar shows what the run's tally counts, device-list pages too."""

import io

from fota_poller.model.tally import RunTally
from fota_poller.observe.progress import ProgressBar


def drawn(tally: RunTally) -> str:
    stream = io.StringIO()
    bar = ProgressBar(stream)  # type: ignore[arg-type] - any text stream takes tqdm's lines
    tally.on_change(bar.update)
    tally.inventory_requests_sent(3)
    bar.close()
    return stream.getvalue()


def test_the_bar_counts_the_device_list_pages_of_inventory_as_they_are_fetched():
    assert "inventory pages=3" in drawn(RunTally())


def test_without_inventory_the_bar_says_nothing_of_it():
    tally = RunTally()
    bar_text = io.StringIO()
    bar = ProgressBar(bar_text)  # type: ignore[arg-type]
    bar.update(tally)
    bar.close()

    assert "devices=0" in bar_text.getvalue()
    assert "inventory" not in bar_text.getvalue()
