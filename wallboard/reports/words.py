"""The report's own words per language (headings, notes, row names, units, dates, definitions); the figures'
column headings are the catalog's (``catalog.html_columns``), the channel names ``wallboard.channels``'. A Hebrew
report is right to left; its numbers, times and dates are kept left to right inside it (the templates isolate
them).

Dates: English ones are ``strftime``'s (the report's stored labels, kept as they were); Hebrew ones come from the
small tables below rather than Babel, which is not a dependency and would be one for twelve month names and seven
day letters (the C locale's ``%a``/``%b`` are English whatever the machine's locale).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache

LANGUAGES = ("en", "he")

EN: dict[str, str] = {
    "dir": "ltr",
    "report": "report",
    "daily": "Daily report",
    "weekly": "Weekly report",
    "monthly": "Monthly report",
    "period": "Period report",
    "to": "to",
    "generated": "generated",
    "gaps_title": "Gaps in the data.",
    "gaps_text": "The feed saw nothing during these times, so the figures below miss whatever happened then. "
    "Rows they touch are hatched and marked",
    "gap": "gap",
    "feed": "feed",
    "summary": "Summary",
    "queue": "Queue",
    "summary_note": "SL by each queue's own formula (below each queue); the all-queues SL is the sum of their "
    "numerators over the sum of their denominators. Waits and ASA in seconds, AHT in minutes:seconds.",
    "sl_is": "Service level",
    "short_abandon": "short abandon",
    "overflow_by": "Overflowed by reason",
    "none": "none",
    "interval": "Interval",
    "day": "Day",
    "total": "Total",
    "all_queues": "All queues",
    "all_channel_queues": "All {channel} queues",
    "all_agents": "All agents",
    "agents": "Agents",
    "agent": "Agent",
    "agents_note": "Times in hours:minutes. Occupancy = (talk + wrap-up) / (talk + wrap-up + available). Missed = "
    "rang and not answered (a ring lost to another agent is not a miss); outbound calls are the answered ones of "
    "the dial attempts. Written busy = time with a written conversation open, overlaps once.",
    "no_agents": "No agent activity in this period.",
    "paused": "Paused",
    "no_reason": "(no reason)",
    "target": "Target",
    "this_period": "This {kind}",
    "met": "Met",
    "day_target": "Day target",
    "days_met": "Days met",
    "missed": "missed",
    "met_yes": "met",
    "fcr": "First contact resolution",
    "fcr_note": "Answered contacts of identified customers whose customer did not contact the same matter again "
    "within {days} days.",
    "provisional": "Provisional",
    "until": "until",
    "fcr_more": "a repeat may still come.",
    "contacts": "Contacts",
    "resolved": "Resolved",
    "definitions": "Definitions",
    "answered": "answered",
    "abandoned": "abandoned",
    "overflowed": "overflowed",
    "sl_axis": "service level (right axis)",
    "gap_legend": "gap in the data",
    "talk": "talk",
    "wrap": "wrap-up",
    "available": "available",
    "occ_note": "(figure at the end of each bar: occupancy)",
    "of": "{n} of {m}",
    "fcr_col": "FCR",
    "no_data_for": "no data for {s} s",
    "chart_calls": "Calls and service level per {per}",
    "chart_agents": "Agent time",
    "sl_target": "SL target",
    "s": "{n} s",
    "dur_h": "{h} h {m:02d} min",
    "dur_m": "{m} min {s:02d} s",
    "scorecards": "Agent scorecards",
    "scorecards_title": "scorecards",
    "team_of": "team of {role}",
    "scorecard_note": "Each figure beside its target (value / target); a missed target is marked. Definitions: "
    'docs/REPORTS.md, "Agent scorecards".',
}

HE: dict[str, str] = {
    "dir": "rtl",
    "report": "דוח",
    "daily": "דוח יומי",
    "weekly": "דוח שבועי",
    "monthly": "דוח חודשי",
    "period": "דוח תקופתי",
    "to": "עד",
    "generated": "הופק",
    "gaps_title": "פערים בנתונים.",
    "gaps_text": "בזמנים אלה לא התקבל דבר מהמקור, ולכן הנתונים שלהלן חסרים את מה שקרה בהם. "
    "השורות שהם נוגעים בהן מקווקוות ומסומנות",
    "gap": "פער",
    "feed": "מקור",
    "summary": "סיכום",
    "queue": "תור",
    "summary_note": "רמת השירות לפי הנוסחה של כל תור (מתחת לכל תור); רמת השירות של כל התורים היא סכום המונים "
    "חלקי סכום המכנים. המתנה וזמן מענה בשניות, זמן טיפול בדקות:שניות.",
    "sl_is": "רמת שירות",
    "short_abandon": "נטישה קצרה",
    "overflow_by": "גלישה לפי סיבה",
    "none": "אין",
    "interval": "רבע שעה",
    "day": "יום",
    "total": 'סה"כ',
    "all_queues": "כל התורים",
    "all_channel_queues": "כל תורי {channel}",
    "all_agents": "כל הנציגים",
    "agents": "נציגים",
    "agent": "נציג",
    "agents_note": "זמנים בשעות:דקות. תפוסה = (שיחה + סיכום) / (שיחה + סיכום + פנוי). לא נענו = צלצל ולא נענה "
    "(צלצול שנלקח על ידי נציג אחר אינו החמצה); שיחות יוצאות הן החיוגים שנענו. עסוק בכתב = זמן שבו פתוחה "
    "שיחה כתובה אחת לפחות, חפיפה נספרת פעם אחת.",
    "no_agents": "אין פעילות נציגים בתקופה זו.",
    "paused": "הפסקה",
    "no_reason": "(ללא סיבה)",
    "target": "יעד",
    "this_period": "התקופה",
    "met": "הושג",
    "day_target": "יעד יומי",
    "days_met": "ימים שהושג",
    "missed": "לא הושג",
    "met_yes": "הושג",
    "fcr": "פתרון בפנייה ראשונה",
    "fcr_note": "פניות שנענו של לקוחות מזוהים שלא פנו שוב באותו עניין בתוך {days} ימים.",
    "provisional": "זמני",
    "until": "עד",
    "fcr_more": "עוד עשויה להגיע פנייה חוזרת.",
    "contacts": "פניות",
    "resolved": "נפתרו",
    "definitions": "הגדרות",
    "answered": "נענו",
    "abandoned": "ננטשו",
    "overflowed": "גלשו",
    "sl_axis": "רמת שירות (ציר ימני)",
    "gap_legend": "פער בנתונים",
    "talk": "שיחה",
    "wrap": "סיכום",
    "available": "פנוי",
    "occ_note": "(המספר בסוף כל פס: תפוסה)",
    "of": "{n} מתוך {m}",
    "fcr_col": "פתרון",
    "no_data_for": "אין נתונים במשך {s} שנ׳",
    "chart_calls": "שיחות ורמת שירות לפי {per}",
    "chart_agents": "זמן הנציגים",
    "sl_target": "יעד רמת שירות",
    # units: the geresh (U+05F3) is a Hebrew letter to the bidi algorithm, so it stays at the abbreviation's end
    "s": "{n} שנ׳",
    "dur_h": "{h} שע׳ {m:02d} דק׳",
    "dur_m": "{m} דק׳ {s:02d} שנ׳",
    "scorecards": "כרטיסי ביצועים של נציגים",
    "scorecards_title": "כרטיסי ביצועים",
    "team_of": "הצוות של {role}",
    "scorecard_note": 'כל נתון לצד היעד שלו (ערך / יעד); יעד שלא הושג מסומן. הגדרות: בפרק "Agent scorecards" '
    "של docs/REPORTS.md.",
}

WORDS = {"en": EN, "he": HE}

SL_LABEL = {
    "en": {
        "answered": "answered within {t} s / answered",
        "excl_short_abandons": "answered within {t} s / (answered + abandoned − short abandoned{o})",
        "all_offered": "answered within {t} s / (answered + abandoned{o})",
        "abandons_good": "(answered + abandoned within {t} s) / (answered + abandoned{o})",
        "overflow": " + overflowed",
    },
    "he": {
        "answered": "נענו בתוך {t} שנ' / נענו",
        "excl_short_abandons": "נענו בתוך {t} שנ' / (נענו + ננטשו − נטישות קצרות{o})",
        "all_offered": "נענו בתוך {t} שנ' / (נענו + ננטשו{o})",
        "abandons_good": "(נענו + ננטשו בתוך {t} שנ') / (נענו + ננטשו{o})",
        "overflow": " + גלשו",
    },
}

DEFINITIONS = {
    "en": (
        ("Offered", "answered + abandoned + overflowed (queue entries that ended)."),
        ("Service level", "by the queue's formula, shown under its name; answered within the threshold counts."),
        ("ASA", "total wait of answered calls / answered."),
        ("Average wait", "total wait of every call that left the queue / offered."),
        ("Abandon rate", "(abandoned − short abandoned) / (offered − short abandoned)."),
        ("AHT", "(talk + wrap-up time of the calls that ended) / calls that ended."),
        ("Peak waiting", "the most callers waiting at once, seen when a caller joined."),
        ("Occupancy", "(talk + wrap-up) / (talk + wrap-up + available), from time in each agent state."),
        ("Written busy", "time with one or more written conversations open (accepted to closed), overlaps once."),
        ("Handled", "every contact the agent answered: voice calls (Voice calls) + written conversations (Written)."),
        ("AHT (agents)", "(talk + wrap-up) / (voice calls handled + outbound calls); written work is not in it."),
        ("Written HT", "written busy / written conversations handled."),
        ("CSAT", "survey answers in the top box (1-5: 4 or 5) / CSAT answers (CSAT n), counted when they arrive."),
        ("NPS", "(promoters 9-10 − detractors 0-6) / NPS answers (NPS n), × 100."),
        ("Surveyed", "contacts with a survey answer / answered calls (agents: calls handled)."),
        (
            "FCR",
            "answered contacts whose customer did not contact the same matter again within the set days / contacts.",
        ),
    ),
    "he": (
        ("הוצעו", "נענו + ננטשו + גלשו (כניסות לתור שהסתיימו)."),
        ("רמת שירות", "לפי הנוסחה של התור, המוצגת מתחת לשמו; נספרות שיחות שנענו בתוך הסף."),
        ("זמן מענה", "סך ההמתנה של השיחות שנענו / נענו. בערוץ כתוב: זמן התגובה הראשונה."),
        ("המתנה ממוצעת", "סך ההמתנה של כל השיחות שיצאו מהתור / הוצעו."),
        ("נטישה", "(ננטשו − נטישות קצרות) / (הוצעו − נטישות קצרות)."),
        ("זמן טיפול", "(זמן שיחה + סיכום של השיחות שהסתיימו) / השיחות שהסתיימו."),
        ("שיא ממתינים", "מספר הממתינים הגבוה ביותר בבת אחת, כפי שנראה כשמתקשר הצטרף."),
        ("תפוסה", "(שיחה + סיכום) / (שיחה + סיכום + פנוי), מהזמן בכל מצב של הנציג."),
        ("עסוק בכתב", "זמן שבו פתוחה שיחה כתובה אחת לפחות (מקבלה ועד סגירה), חפיפה נספרת פעם אחת."),
        ("טופלו", "כל הפניות שהנציג קיבל: שיחות קוליות + שיחות כתובות."),
        ("זמן טיפול (נציגים)", "(שיחה + סיכום) / (שיחות קוליות שטופלו + שיחות יוצאות); עבודה בכתב אינה בו."),
        ("זמן טיפול בכתב", "עסוק בכתב / שיחות כתובות שטופלו."),
        ("שביעות רצון", "תשובות סקר בציון העליון (1-5: 4 או 5) / תשובות CSAT, נספרות כשהן מגיעות."),
        ("NPS", "(ממליצים 9-10 − מלעיזים 0-6) / תשובות NPS, × 100."),
        ("נסקרו", "פניות עם תשובת סקר / שיחות שנענו (נציגים: שיחות שטופלו)."),
        ("פתרון בפנייה ראשונה", "פניות שנענו שהלקוח לא פנה שוב באותו עניין בתוך הימים שנקבעו / פניות."),
    ),
}


def words(language: str) -> dict[str, str]:
    if language not in WORDS:
        raise ValueError(f"language: {language!r} is not one of {', '.join(LANGUAGES)}")
    return WORDS[language]


# The report's notes (``build_report`` writes the English ones into the report; ``note`` reads one back in
# another language, so the stored report stays one language)
NOTES = {
    "en": {
        "runs_to": "The period runs to {last}; figures are up to {now}.",
        "older": "Part of the period is older than the {days} days daily figures are kept.",
        "intervals_kept": "15-minute intervals are kept {days} days (history.interval_keep_days); {missing} shown "
        "as day totals only.",
        "no_data": "No data was recorded in this period.",
        "fcr_provisional": "First contact resolution is provisional until {until}: a customer may still contact "
        "the centre again within {days} days of a contact.",
    },
    "he": {
        "runs_to": "התקופה נמשכת עד {last}; הנתונים נכונים עד {now}.",
        "older": "חלק מהתקופה ישן מ-{days} הימים שבהם נשמרים הנתונים היומיים.",
        "intervals_kept": "נתוני רבע שעה נשמרים {days} ימים (history.interval_keep_days); {missing} מוצגים "
        "כסיכומים יומיים בלבד.",
        "no_data": "לא נרשמו נתונים בתקופה זו.",
        "fcr_provisional": "פתרון בפנייה ראשונה זמני עד {until}: לקוח עוד עשוי לפנות שוב למוקד בתוך {days} ימים "
        "מפנייה.",
    },
}


@cache
def _note_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    def pattern(t: str) -> re.Pattern:
        parts = re.split(r"\{(\w+)\}", t)  # text, name, text, name, ..., text
        return re.compile("".join(re.escape(x) if i % 2 == 0 else f"(?P<{x}>.+?)" for i, x in enumerate(parts)) + "$")

    return tuple((k, pattern(t)) for k, t in NOTES["en"].items())


def note(text: str, language: str) -> str:
    """A report's (English) note in ``language``; one this table does not know stays as it is."""
    if language == "en":
        return text
    for key, pat in _note_patterns():
        m = pat.match(text)
        if m:
            return NOTES[language][key].format(**m.groupdict())
    return text


# A queue's overflow reasons as the feeds name them (``key 3``: the caller pressed 3); others shown as they are
OVERFLOW_REASONS = {
    "he": {
        "timeout": "תם זמן ההמתנה",
        "empty": "אין נציגים",
        "full": "התור מלא",
        "withdrawn": "נמשכה",
        "callback": "שיחה חוזרת",
        "key": "מקש",
    },
}

# Hebrew dates: day letters from Monday (``date.weekday()``), months from January
HE_DAYS = ("יום ב׳", "יום ג׳", "יום ד׳", "יום ה׳", "יום ו׳", "שבת", "יום א׳")
HE_MONTHS = (
    "ינואר",
    "פברואר",
    "מרץ",
    "אפריל",
    "מאי",
    "יוני",
    "יולי",
    "אוגוסט",
    "ספטמבר",
    "אוקטובר",
    "נובמבר",
    "דצמבר",
)


def reason(r: str, language: str) -> str:
    """An overflow reason in ``language``: ``key 3`` -> its word for key, then 3."""
    names = OVERFLOW_REASONS.get(language)
    if not names:
        return r
    head, _, rest = r.partition(" ")
    return f"{names[head]} {rest}".strip() if head in names else names.get(r, r)


def day(d: date | datetime, language: str, year: bool = False) -> str:
    """A day as a table row or chart names it: ``Sun 22 Nov`` / ``יום א׳ 22.11`` (``year``: ``2026`` / ``.2026``
    added); a datetime with its time, ``HH:MM``."""
    if language == "en":
        text = d.strftime("%a %d %b %Y" if year else "%a %d %b")
    else:
        text = f"{HE_DAYS[d.weekday()]} {d.day}.{d.month}" + (f".{d.year}" if year else "")
    return f"{text} {d.strftime('%H:%M')}" if isinstance(d, datetime) else text


def he_short_day(d: date) -> str:
    """A chart's tick in Hebrew: ``22.11`` (the English one is the row's label, ``22 Nov``)."""
    return f"{d.day}.{d.month}"


def he_period_label(kind: str, first: date, last: date) -> str:
    """The period's name in Hebrew, as ``history.calendar.Period.label`` gives it in English."""
    if kind == "day":
        return day(first, "he", year=True)
    if kind == "month":
        return f"{HE_MONTHS[first.month - 1]} {first.year}"
    span = f"{day(first, 'he', year=True)} – {day(last, 'he', year=True)}"
    return f"שבוע {span}" if kind == "week" else span
