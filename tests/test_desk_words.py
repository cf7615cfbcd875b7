"""The desk in English and Hebrew (``[display] language``, ``wallboard tui --lang``): one table of words per
language; a Hebrew desk right to left (its tables' columns from the right, every text in the order a terminal
without bidi support draws it); the drill-down's formulas in the catalog's words, not the counters' fields.

The Hebrew expectations are written by hand in display order (a run of Hebrew letters reversed, numbers and
Latin names kept left to right), the desk driven by Textual's pilot against real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wallboard import catalog
from wallboard.actions.model import Move, Pause, Spy, Takeover, describe as model_describe
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.ui.words import EN, HE, Words, describe

from .conftest import redis_url
from .test_tui import BREACH, T0, publish, seq_is, snapshot, store_sync, token_for, until
from .test_tui_actions import screen_text
from .test_tui_fit import SUPERVISOR
from .ui_seen import Notices

SIZE = (100, 30)


def he_app(prefix: str, user: str = "rivka", **display):
    """rivka's desk (she may do everything), in Hebrew."""
    from wallboard.ui.app import build_desk_app

    config = load_config(
        None,
        redis={"prefix": prefix, "url": redis_url()},
        centre={"timezone": "UTC", "name": "Test centre"},
        display={"stale_after_s": 5, "language": "he", **display},
        roles={"supervisor": {"permissions": SUPERVISOR}},
        users=[{"name": "rivka", "roles": ["supervisor"]}],
    )
    return build_desk_app(config, redis_url(), user=user, clock=ManualClock(T0), token=token_for(user))


def on_a_call(seq: int, **kw):
    """The test snapshot with Gefen on a call from the support queue."""
    snap = snapshot(seq, **kw)
    gefen = snap.agents["1001"].model_copy(update={"call_id": "sup.9", "call_queue": "support"})
    return snap.model_copy(update={"agents": {**snap.agents, "1001": gefen}})


# ---- the tables of words -------------------------------------------------------------------------------------


def test_each_language_has_every_word_with_the_same_fields():
    import string

    assert set(EN) == set(HE)

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key in EN:
        assert fields(EN[key]) == fields(HE[key]), key


REQUESTS = [
    Spy(type="listen", user="rivka", agent="1001", call_id="1796563767.16", at=T0),
    Spy(type="whisper", user="rivka", agent="1001", call_id="1796563767.16", at=T0, keypad=True),
    Spy(type="barge", user="rivka", agent="1001", call_id=None, at=T0),
    Takeover(user="rivka", agent="1001", call_id="1796563767.16", at=T0),
    Move(user="rivka", agent="1001", queue="tech", op="add", penalty=2, revert_after_s=900, at=T0),
    Move(user="rivka", agent="1001", queue="tech", op="remove", at=T0),
    Move(user="rivka", agent="1001", queue="tech", op="penalty", penalty=0, at=T0),
    Pause(type="pause", user="rivka", agent="1001", reason="lunch", at=T0),
    Pause(type="unpause", user="rivka", agent="1001", queue="support", at=T0),
]


@pytest.mark.parametrize("req", REQUESTS, ids=lambda r: f"{r.type}-{getattr(r, 'op', '')}")
def test_the_english_confirmations_are_the_requests_own_words(req):
    """The desk's English confirmation is exactly what ``actions.model.describe`` (the audit's, the hub's) says."""
    for call in (None, "with ***5040 (Customer service, 2:41 so far)"):
        assert describe(req, "Gefen", call) == model_describe(req, "Gefen", call)


def test_a_right_to_left_footer_is_mirrored():
    from wallboard.ui.bindings import DESK_KEYS, mirrored

    order = [(s.action, s.alias) for s in mirrored(DESK_KEYS)]
    assert order[0] == ("quit", False) and order[-1] == ("drill", False)
    assert order.index(("unpause", True)) == order.index(("pause", False)) + 1  # p: pause first, as in English
    assert sorted(order) == sorted((s.action, s.alias) for s in DESK_KEYS)


def test_hebrew_confirmations():
    he = Words("he")
    call = "עם ***5040 (Customer service, 2:41 עד כה)"
    assert describe(REQUESTS[3], "Gefen", call, he) == (
        "השתלטות על השיחה של Gefen עם ***5040 (Customer service, 2:41 עד כה) — המתקשר יועבר לטלפון שלך; "
        "Gefen יוצא/ת מהשיחה"
    )
    assert describe(REQUESTS[4], "Gefen", None, he) == "הוספת Gefen לתור tech בעדיפות 2, חזרה בעוד 15 דק׳"
    assert describe(REQUESTS[7], "Gefen", None, he) == "הפסקה לGefen (צהריים)"  # a shipped reason, in Hebrew


def test_the_formulas_in_words():
    """Every term of every desk ratio has words in both languages, by every SL formula."""
    assert catalog.formula_words("service_level") == "answered within SL / (answered + abandoned - short abandons)"
    assert catalog.formula_words("service_level", "he") == "נענו בזמן היעד / (נענו + ננטשו - נטישות קצרות)"
    assert catalog.formula_words("service_level", "en", "abandons_good", count_overflow=True) == (
        "(answered within SL + abandoned within SL) / (answered + abandoned + overflowed)"
    )
    assert catalog.formula_words("abandon_rate") == "(abandoned - short abandons) / (offered - short abandons)"
    for formula in catalog.SL_FORMULAS:
        assert set(catalog.SL_FORMULA_WORDS[formula]) == set(catalog.LANGUAGES)
        for language in catalog.LANGUAGES:
            for m in catalog.queue(kind="ratio"):
                if m.desk:
                    text = catalog.formula_words(m.name, language, formula, True)
                    assert "_" not in text, (m.name, language, text)


# ---- the Hebrew desk, on screen ----------------------------------------------------------------------------------


async def test_the_hebrew_desk_reads_right_to_left(redis_client, prefix, cleanup):
    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = he_app(prefix)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        await pilot.pause()
        # the queue table from the right: the queue's name is the last column, the trend the first
        cols = app.queue_table.column_ids
        assert cols[-1] == "name" and cols[0] == "trend" and cols[-2] == "waiting"
        assert app.agent_table.column_ids[-1] == "agent" and app.caller_table.column_ids[-1] == "queue"
        lines = screen_text(app).splitlines()
        # the header: the centre's name on the right, then (to its left) since when and the sequence
        head = lines[0].rstrip()
        assert head.endswith("7 ףצר · 22:00 זאמ · Test centre".replace("7", "1"))
        assert head.lstrip().startswith("09:15:00 rivka")  # the clock on the left
        assert "1 :תוגירח" in head  # "חריגות: 1": one breach nobody handled
        # the headers in Hebrew, reversed for display, the name's at the right end
        assert lines[1].rstrip().endswith("רות")  # תור
        assert "רותב" in lines[1] and "השיטנ" in lines[1]  # בתור, נטישה
        total = next(ln for ln in lines if 'כ"הס' in ln)  # סה"כ
        assert total.rstrip().endswith('כ"הס') and "78.9%" in total
        # the agents: states and alerts in Hebrew, names as they are, right-aligned
        omer = next(ln for ln in lines if "31:40" in ln)
        assert "םיירהצ:הקספה" in omer and "הכורא הקספה" in omer  # הפסקה:צהריים, הפסקה ארוכה
        dana = next(ln for ln in lines if " יונפ" in ln)  # פנוי
        assert "support" in dana
        # the footer's keys in Hebrew, the first on the right (Ack right of Help), the command palette kept
        footer = lines[-1]
        assert footer.index("? הרזע") < footer.index("a רושיא") and "^p palette" in footer  # עזרה, אישור
        await pilot.press("ctrl+p")
        from textual.command import CommandPalette

        assert isinstance(app.screen, CommandPalette)


async def test_hebrew_help_confirmation_toast_and_drill_down(redis_client, prefix, cleanup):
    from wallboard.ui.dialogs import ConfirmScreen
    from wallboard.ui.screens import DrillDownScreen, HelpScreen

    await publish(redis_client, prefix, on_a_call(1, support=BREACH))
    app = he_app(prefix)
    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        # narrow: the waiting callers below the agents, as in English (side by side they are left of them)
        lower = app.query_one("#lower")
        assert [c.id for c in lower.children] == ["agents-box", "callers-box"]
        # the help: Hebrew, each line from the right, inside the box at 80 columns
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help-box")
        text = screen_text(app)
        assert "םישקמ" in text and "הרזע" in text  # מקשים, עזרה
        key_line = next(ln for ln in text.splitlines() if "wallboard.takeover" in ln)
        assert key_line.rstrip(" │").endswith("השתלטות על השיחה"[::-1] + "  t")
        assert max(len(str(ln)) for ln in app.screen.query_one("#help-text").render().split()) <= (
            box.content_region.width
        )
        await pilot.press("escape")
        # a key that cannot act now says why, in Hebrew (Dana is not on a call)
        app.agent_table.focus()
        app.agent_table.select_key("1002")
        await pilot.pause()
        await pilot.press("t")
        await until(pilot, lambda: bool(notices), "the notice")
        # "Dana אינו בשיחה: אין שיחה להשתלט עליה", cut into the toast's lines (36 cells at 80 columns) in reading
        # order, each in display order and aligned right
        text, severity = notices[-1]
        assert severity == "warning" and text.split("\n") == [
            "    טלתשהל החיש ןיא :החישב וניא Dana",
            " " * 32 + "הילע",
        ]
        # a confirmation in Hebrew, the call by its queue
        app.agent_table.select_key("1001")
        await pilot.pause()
        await pilot.press("l")
        assert isinstance(app.screen, ConfirmScreen)
        confirm = str(app.screen.query_one("#confirm-text").render())
        assert "Gefen" in confirm and "Customer service" in confirm and "sup.9" not in confirm
        # "האזנה לGefen ...": it starts at the right of the first line, cut into the box's lines in reading order
        first, rest = confirm.split("\n")
        assert first.endswith("Gefen" + "האזנה ל"[::-1]) and rest == "ךתוא עמוש וניא שיא"  # איש אינו שומע אותך
        await pilot.press("escape")
        # the drill-down: the formula in Hebrew words
        app.queue_table.focus()
        app.queue_table.select_key("support")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DrillDownScreen), "the drill-down")
        await pilot.pause()
        formulas = str(app.screen.query_one("#formulas").render())
        # רמת שירות = נענו בזמן היעד / (נענו + ננטשו - נטישות קצרות), in display order
        assert "(תורצק תושיטנ - ושטננ + ונענ) / דעיה ןמזב ונענ = תוריש תמר" in formulas
        assert "_" not in formulas
        # Textual's own keys are kept beside the desk's words (tab to the next table)
        assert app.screen.focused.id == "figures"
        await pilot.press("tab")
        assert app.screen.focused.id != "figures"
        await pilot.press("escape")
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert [c.id for c in lower.children] == ["callers-box", "agents-box"]


def test_the_engines_window_labels_in_words():
    from datetime import timezone

    from wallboard.ui.view import describe_window

    he = Words("he")
    assert describe_window("since reset 2026-11-22T22:00:00Z", timezone.utc) == "since reset 2026-11-22 22:00 UTC"
    assert describe_window("since reset 2026-11-22T22:00:00Z", timezone.utc, he) == "מאז האיפוס 2026-11-22 22:00 UTC"
    assert describe_window("rolling 2026-11-23T08:45:00Z", timezone.utc, he) == "מתגלגל, דקות מ-08:45 UTC והלאה"
    assert describe_window("all input", timezone.utc, he) == "כל הקלט"


async def test_english_stays_the_default(redis_client, prefix, cleanup):
    """No language set: the desk is English, left to right (the SVG baselines hold it to the byte)."""
    from .test_tui import make_app

    await publish(redis_client, prefix, snapshot(1))
    app = make_app(prefix, ManualClock(T0))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        assert app.words.language == "en" and not app.has_class("-rtl")
        assert app.queue_table.column_ids[0] == "name"


def test_the_cli_takes_the_language():
    from wallboard.cli import build_parser

    parser = build_parser()
    for command in ("tui", "demo"):
        args = parser.parse_args([command, "--lang", "he", "--bidi", "terminal"])
        assert (args.lang, args.bidi) == ("he", "terminal")


def test_svg_hebrew_desk(snap_compare, namespace):
    """The Hebrew desk with a breach, at 100x30: right to left, in display order."""
    store_sync(namespace, snapshot(7, at=T0 + timedelta(seconds=0), support=BREACH))

    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, 7), "the stored snapshot")
        # the columns are measured when a table is idle, and a right-to-left table wider than its box is then
        # scrolled to its right end after the next frame (``KeyedTable.hold_right``): CI once took the SVG before
        await until(pilot, lambda: held_right(pilot.app), "the tables measured and held right")

    assert snap_compare(he_app(namespace), terminal_size=SIZE, run_before=run_before)


def held_right(app) -> bool:
    """Every table of the desk has measured its columns, and each right-to-left one shows its right end."""
    from wallboard.ui.tables import KeyedTable

    tables = list(app.query(KeyedTable))
    return bool(tables) and all(
        not t._require_update_dimensions and (not t.rtl or t.scroll_x == t.max_scroll_x) for t in tables
    )


async def test_hebrew_move_and_pause_dialogs_and_scorecard(redis_client, prefix, cleanup):
    from wallboard.ui.dialogs import MoveScreen, PauseReasonScreen
    from wallboard.ui.screens import AgentCardScreen

    await publish(redis_client, prefix, snapshot(1))
    app = he_app(prefix)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        app.agent_table.focus()
        app.agent_table.select_key("1001")  # Gefen: support 0, tech 1
        await pilot.pause()
        await pilot.press("m")
        assert isinstance(app.screen, MoveScreen)
        dialog = app.screen
        dialog.select_queue("tech")
        await pilot.pause()
        text = screen_text(app)
        assert "Gefen (1001) " + "העברת"[::-1] in text  # "העברת Gefen (1001)", from the right
        assert "1 תופידע" in text  # "עדיפות 1": Gefen's penalty in tech
        preview = str(dialog.query_one("#move-preview").render())
        # "Gefen בעדיפות 1 בתור tech עכשיו: הקלידו אחרת, או בחרו הסרה", in display order
        assert preview == "הרסה ורחב וא ,תרחא ודילקה :וישכע tech רותב 1 תופידעב Gefen"
        await pilot.press("escape")
        await pilot.press("p")
        assert isinstance(app.screen, PauseReasonScreen)
        assert str(app.screen.query_one("#reason-title").render()) == "?המל :Gefen" + "הפסקה ל"[::-1]
        await pilot.press("escape")
        await pilot.press("enter")  # the agent's scorecard
        assert isinstance(app.screen, AgentCardScreen)
        await pilot.pause()
        card = screen_text(app)
        assert "םידעיה לומ םויה :Gefen" in card and "ולפוט" in card  # "Gefen: היום מול היעדים", טופלו


async def test_a_hebrew_acknowledgement_is_sent_and_said_in_hebrew(redis_client, prefix, cleanup):
    from .ui_seen import requests_sent

    await publish(redis_client, prefix, snapshot(1, support=BREACH))
    app = he_app(prefix)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        app.queue_table.select_key("support")
        await pilot.press("a")
        await until(pilot, lambda: bool(requests_sent(app)), "the ack requests on the stream")
        sent = requests_sent(app)
        assert {(r["type"], r["queue"]) for r in sent} == {("ack", "support")} and len(sent) == 2
        # "Customer service: אישור התראות המתנה ארוכה ו רמת שירות — נשלח", in display order
        text, severity = next(n for n in notices if "חלשנ" in n[0])
        first = text.split("\n")[0]
        assert severity == "information" and first.endswith(":Customer service")  # the queue first, on the right
        assert "חלשנ — " in text and "תוארתה" in text and "תוריש תמר" in text and "הכורא הנתמה" in text


def test_svg_hebrew_help_80x24(snap_compare, namespace):
    """The Hebrew help at 80x24: every line from the right, the keys' column at the right edge."""
    store_sync(namespace, snapshot(7))

    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, 7), "the stored snapshot")
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(he_app(namespace), terminal_size=(80, 24), run_before=run_before)


def test_svg_hebrew_drill_down_80x24(snap_compare, namespace):
    """The Hebrew drill-down at 80x24, the cursor on service level: its formula in words above the table."""
    store_sync(namespace, snapshot(7, support=BREACH))

    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, 7), "the stored snapshot")
        await pilot.press("enter", *["down"] * 8)
        await pilot.pause()

    assert snap_compare(he_app(namespace), terminal_size=(80, 24), run_before=run_before)


# ---- pause reasons, dialog titles, radio marks, focus order ------------------------------------------------------


def test_shipped_pause_reasons_are_translated_and_a_centres_own_stay_as_written():
    from wallboard.config import DEFAULT_PAUSE_REASONS
    from wallboard.snapshot import AgentSnapshot
    from wallboard.ui.view import state_text

    he = Words("he")
    assert {r: he.reason(r) for r in DEFAULT_PAUSE_REASONS} == {
        "break": "מנוחה",
        "coaching": "אימון",
        "meeting": "ישיבה",
        "lunch": "צהריים",
        "training": "הדרכה",
        "other": "אחר",
    }
    assert Words("en").reason("lunch") == "lunch" and he.reason("Team huddle") == "Team huddle"
    lunch = AgentSnapshot(name="Omer", state="paused", reason="lunch")
    assert state_text(lunch, he) == "הפסקה:צהריים" and he.show(state_text(lunch, he)) == "םיירהצ:הקספה"
    # a centre's own reason in Latin letters: as written, read after "הפסקה:" (right to left: its left side)
    huddle = lunch.model_copy(update={"reason": "Team huddle"})
    assert he.show(state_text(huddle, he)) == "Team huddle:הקספה"


async def test_hebrew_pause_in_hebrew_titles_right_marks_first_and_tab_order(redis_client, prefix, cleanup):
    """The pause dialog lists the shipped reasons in Hebrew and its confirmation says the reason in Hebrew (the
    request still carries "lunch"); the move and pause dialogs' titles sit top right like the help's; each
    radio mark on the right of its option (read first), the first option rightmost; Tab goes from the queues
    to the agents, then the waiting callers, as in English."""
    from wallboard.ui.dialogs import Choice, ConfirmScreen, MoveScreen, PauseReasonScreen

    from .ui_seen import requests_sent

    await publish(redis_client, prefix, snapshot(1))
    app = he_app(prefix)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        await pilot.pause()
        text = screen_text(app)
        assert "םיירהצ:הקספה" in text and "lunch" not in text  # Omer, "הפסקה:צהריים"
        assert app.focused is app.queue_table
        await pilot.press("tab")
        assert app.focused is app.agent_table
        await pilot.press("tab")
        assert app.focused is app.caller_table
        await pilot.press("shift+tab")
        assert app.focused is app.agent_table

        app.agent_table.select_key("1002")  # Dana, available
        await pilot.pause()
        await pilot.press("m")
        assert isinstance(app.screen, MoveScreen)
        assert app.screen.query_one("#move-box").styles.border_title_align == "right"
        op = app.screen.query_one("#move-op", Choice)
        shown = str(op.render()).strip()
        # "● הוספה  ○ הסרה  ○ עדיפות" from the right: each mark right of its option
        assert shown == "תופידע ○  הרסה ○  הפסוה ●", shown
        await pilot.press("tab")  # from the queues to the operation: left moves the mark left
        assert app.screen.focused is op, app.screen.focused
        await pilot.press("left")
        assert op.value == "remove" and str(op.render()).strip() == "תופידע ○  הרסה ●  הפסוה ○"
        await pilot.press("escape")

        await pilot.press("p")
        assert isinstance(app.screen, PauseReasonScreen)
        assert app.screen.query_one("#reason-box").styles.border_title_align == "right"
        options = [str(o.prompt) for o in app.screen.query_one("#reason-list").options]
        assert options == ["החונמ  1", "ןומיא  2", "הבישי  3", "םיירהצ  4", "הכרדה  5", "רחא  6"]
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        confirm = str(app.screen.query_one("#confirm-text").render())
        assert "(םיירהצ)" in confirm and "lunch" not in confirm, confirm
        await pilot.press("enter")
        await until(pilot, lambda: bool(requests_sent(app)), "the pause request")
        (sent,) = requests_sent(app)
        assert (sent["type"], sent["agent"], sent["reason"]) == ("pause", "1002", "lunch")


def test_svg_hebrew_move_dialog_80x24(snap_compare, namespace):
    """The Hebrew move dialog at 80x24: its title top right, each radio mark right of its option."""
    store_sync(namespace, snapshot(7))

    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, 7), "the stored snapshot")
        pilot.app.agent_table.focus()
        pilot.app.agent_table.select_key("1002")
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(he_app(namespace), terminal_size=(80, 24), run_before=run_before)


def test_svg_hebrew_pause_dialog_80x24(snap_compare, namespace):
    """The Hebrew pause dialog at 80x24: the shipped reasons in Hebrew, its title top right."""
    store_sync(namespace, snapshot(7))

    async def run_before(pilot) -> None:
        await until(pilot, seq_is(pilot.app, 7), "the stored snapshot")
        pilot.app.agent_table.focus()
        pilot.app.agent_table.select_key("1002")
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(he_app(namespace), terminal_size=(80, 24), run_before=run_before)


async def test_a_hebrew_table_wider_than_its_box_shows_its_right_end(redis_client, prefix, cleanup):
    """At 100x30 the Hebrew agents table is wider than its box: it shows its first columns (the names, on the
    right), its last ones (the load) are what is scrolled out, on the left."""
    await publish(redis_client, prefix, snapshot(1))
    app = he_app(prefix)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, seq_is(app, 1), "snapshot 1")
        table = app.agent_table
        await until(pilot, lambda: table.max_scroll_x > 0 and table.scroll_x == table.max_scroll_x, "the right end")
        omer = next(ln for ln in screen_text(app).splitlines() if "31:40" in ln)
        assert omer.rstrip().endswith("Omer"), omer
