"""Survey answers attacked: a queue_log SURVEY row a broken IVR or a hostile hand wrote, and answers for contacts
that were never answered. Each is a dead letter with its reason, never a traceback nor a count; real Redis,
the real queue_log feed and engine, expected values by hand."""

from __future__ import annotations

from feeds.queue_log import QueueLogFeed
from wallboard.config import load_config
from wallboard.feed import DeadLetter

from .conftest import at


def test_a_survey_row_whose_score_int_cannot_read_is_a_dead_letter(tmp_path):
    """str.isdigit passes '²' and 5,000 nines; int() raised on both and the feed stopped on that line (a restart
    read it again: the feed could never get past it). The row after them is still read."""
    t = int(at(0).timestamp())
    path = tmp_path / "queue_log"
    path.write_text(
        f"{t}|c1|sales|NONE|SURVEY|²|1-5\n{t + 1}|c2|sales|NONE|SURVEY|{'9' * 5000}|1-5\n"
        f"{t + 2}|c3|sales|NONE|SURVEY|4|1-5\n"
    )
    superscript, huge, fine = QueueLogFeed(str(path), load_config(None)).read()
    assert (
        isinstance(superscript, DeadLetter) and superscript.reason == "SURVEY: score (data1) is not a whole number: '²'"
    )
    assert isinstance(huge, DeadLetter) and huge.reason.startswith("SURVEY: score (data1) is not a whole number: '999")
    assert (fine.call_id, fine.score) == ("c3", 4)
