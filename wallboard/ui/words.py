"""The desk's own words per language (``[display] language``, ``wallboard tui --lang``): column headers, states,
the header, the footer's keys, the help, the notices, the confirmations, the overload advice and the drill-down.
One table per language, the same keys in each (``tests/test_desk_words.py`` holds them to it); the figures'
names and the formulas' terms are the catalog's (``catalog.desk_label``, ``catalog.formula_words``), the
channels' ``wallboard.channels``'.

English is the desk as it always read: its entries are the very strings the desk showed before it had a
language. A Hebrew desk is right to left: its tables' columns run from the right, its texts reordered for
terminals without bidi support (``board.visual``; ``--bidi terminal`` leaves it to a terminal that reorders).
Names from the config and the PBX (queues, agents, pause reasons, users) are shown as they are.
"""

from __future__ import annotations

import textwrap
from typing import Literal

from rich.text import Text

from .bidi import visual, visual_pieces

Language = Literal["en", "he"]
LANGUAGES: tuple[str, ...] = ("en", "he")

EN: dict[str, str] = {
    # the queue table
    "col.name": "Queue",
    "col.channel": "Ch",
    "col.waiting": "Wait",
    "col.longest": "Longest",
    "col.sl": "SL",
    "col.sl_rolling": "SL {m}m",
    "col.asa": "ASA",
    "col.avg_wait": "AvgW",
    "col.abandon_rate": "Abn%",
    "col.offered": "Off",
    "col.answered": "Ans",
    "col.abandoned": "Abn",
    "col.ewt": "EWT",
    "col.avail": "Avail",
    "col.busy": "Busy",
    "col.paused": "Paus",
    "col.trend": "Trend",
    "total": "TOTAL",
    "all_channels": "all",
    # the agents and the waiting callers
    "col.agent": "Agent",
    "col.state": "State",
    "col.time": "Time",
    "col.alerts": "Alerts",
    "col.calls": "Handled",
    "col.missed": "Miss",
    "col.queues": "Queues",
    "col.load": "Load",
    "col.queue": "Queue",
    "col.caller": "Caller",
    "col.wait": "Wait",
    "col.penalty": "Pen",
    "col.drill_calls": "Calls",
    "col.kind": "Kind",
    "col.entered": "Entered",
    "box.agents": "Agents",
    "box.waiting": "Waiting now",
    "box.drill_callers": "Waiting callers and callbacks",
    "state.available": "available",
    "state.ringing": "ringing",
    "state.on_call": "on call",
    "state.wrap_up": "wrap-up",
    "state.paused": "paused",
    "state.logged_out": "logged out",
    "reason.break": "break",
    "reason.coaching": "coaching",
    "reason.meeting": "meeting",
    "reason.lunch": "lunch",
    "reason.training": "training",
    "reason.other": "other",
    "paused_for": "paused:{reason}",
    "pause_pending": " → paused",
    "pause_pending_for": " → paused:{reason}",
    "spy.listen": "listen",
    "spy.whisper": "whisper",
    "spy.barge": "barge",
    "spy.keypad": "keypad",
    "spy.unknown": "spying",
    "taken": "taken:{by}",
    "alert.long_call": "long_call",
    "alert.long_wrap": "long_wrap",
    "alert.long_pause": "long_pause",
    "alert.missed_in_row": "missed_in_row",
    "kind.waiting": "waiting",
    "kind.callback": "callback",
    # the header
    "since": " · since {t}",
    "since_reset": " · since reset",
    "all_input": " · all input",
    "seq": " · seq {n}",
    "stale": "STALE — no data since {since}",
    "stale_start": "start (no snapshot yet)",
    "badge.loud": " {n} BREACH",
    "badge.acked": "{n} acknowledged",
    "badge.snoozed": "{n} snoozed to {t}",
    "badge.acked_short": "{n} ack'd",  # a narrow header
    "badge.snoozed_short": "{n} to {t}",
    "badge.one": "breach",
    "badge.many": "breaches",
    # the footer's keys (a binding id's words; the help's longer ones in ``help.<id>``)
    "key.drill": "Drill down",
    "key.ack": "Ack",
    "key.snooze": "Snooze {m}m",
    "key.advice": "Advice",
    "key.toggle_flash": "Flash on/off",
    "key.help": "Help",
    "key.quit": "Quit",
    "key.listen": "Listen",
    "key.whisper": "Whisper",
    "key.barge": "Barge",
    "key.takeover": "Take over",
    "key.move": "Move",
    "key.pause": "Pause",
    "key.unpause": "Unpause",
    "key.back": "Back",
    # the demo's first notice: where else to look (``wallboard demo``)
    "demo.elsewhere": "This demo, elsewhere",
    "demo.follow": "In another terminal, with no flags, these show this demo ({prefix}): `wallboard board` (the TV "
    "in a terminal), `wallboard serve` (the TV page: open the URL it prints), `wallboard advise`, "
    "`wallboard snapshot`, `wallboard report --period day`. Press q here to stop the demo.",
    # a footer too narrow for every key in full (``footer.DeskFooter``): the short words
    "keyshort.drill": "Drill",
    "keyshort.snooze": "Snooze",
    "keyshort.toggle_flash": "Flash",
    "help.advice": "Overload advice (moves)",
    "help.takeover": "Take over the call",
    "help.move": "Move (queues)",
    "help.pause": "Pause/unpause",
    # the help
    "help.title": "Help",
    "help.subtitle": "↑↓ scroll · esc close",
    "help.keys": "Keys",
    "help.palette": "Command palette (each by name)",
    "help.tab": "Next table",
    "help.colours": "[b]Colours[/b]: [yellow]warn[/yellow], [bold red]breach[/bold red] (flashes until acknowledged "
    "or snoozed), [grey50]closed[/grey50].",
    "help.ack": "Ack and snooze act on the selected queue's metrics in warn or breach.",
    "help.agent_keys": "Agent keys act on the selected agent (tab to Agents); each is confirmed.",
    "help.notes": "[b]Agents[/b] column notes:",
    "help.note_spy": "who listens to the agent, and how",
    "help.note_move": "a temporary move, reverting in 14:59",
    "help.note_taken": "rivka took the agent's call (Alerts, for 5 minutes)",
    "help.remap": "Remap a key in the config: ",
    # notices
    "flashing_on": "Flashing on",
    "flashing_off": "Flashing off",
    "sent": "{label} — sent",
    "not_sent": "{label}: not sent: {error}",
    "kind_not_sent": "{kind} not sent: {error}",
    "no_outcome": "{label}: no outcome yet: is the executor running?",
    "outcome_ok": "{label}: ok",
    "outcome_bad": "{label}: {result}{pbx}",
    "outcome_pbx": " — PBX: {pbx}",
    "select_queue": "Select a queue first",
    "select_agent": "Select an agent first",
    "select_agent_tab": "Select an agent first: tab to the Agents table",
    "queue_action": "{action} acts on a queue: select one in the queue table",
    "may_not": "{user} may not {action}",
    "not_offered": "{user} may not {action} (not offered)",
    "not_in_team": "{name} is not in {user}'s team",
    "paused_already": "{name} is paused already",
    "not_paused": "{name} is not paused",
    "logged_out": "{name} is logged out",
    "not_on_call": "{name} is not on a call: {nothing}",
    "nothing.listen": "nothing to listen to",
    "nothing.whisper": "nothing to whisper on",
    "nothing.barge": "nothing to barge in on",
    "nothing.takeover": "nothing to take over",
    "no_alert": "{queue}: no alert to {what}",
    "what.ack": "acknowledge",
    "what.snooze": "snooze",
    "ack_label": "{queue}: acknowledge the {metrics} {alerts}",
    "snooze_label": "{queue}: snooze the {metrics} {alerts} for {m:g} min",
    "alert": "alert",
    "alerts": "alerts",
    "and": " and ",
    "unknown_keys": "display.keys: unknown binding id(s) {ids}",
    # the overload advice (``dialogs.AdviceScreen``; a move's line in English is the advisor's ``Move.text``); the
    # advisor's own notes (why a queue has no figures, why its model and live SL differ) and the model's name
    # are its words, in English
    "advice.title": "Overload advice",
    "advice.subtitle": "at {t} · on {basis}",
    "advice.no_calls": "no calls yet",
    "advice.col.queue": "Queue",
    "advice.col.required": "Required",
    "advice.col.effective": "Effective",
    "advice.col.sl_now": "SL now",
    "advice.col.sl_model": "SL model",
    "advice.col.status": "Status",
    "advice.col.model": "Model",
    "advice.status.short": "short by {short_by}",
    "advice.status.ok": "ok",
    "advice.status.slack": "slack, {spare} spare",
    "advice.status.no_estimate": "no figures",
    "advice.status.closed": "closed",
    "advice.moves": "Moves, best first (projected SL, steady state):",
    "advice.move": "Move {name}: {src} → {dst}; {dst} SL {to_was} → {to_now}, {src} {from_was} → {from_now}",
    "advice.move_penalty": "Move {name} (penalty swap): {src} → {dst}; "
    "{dst} SL {to_was} → {to_now}, {src} {from_was} → {from_now}",
    "advice.plan": "Plan: {names} in turn take {queue} from {was} to {now} (projected)",
    "advice.none_short_one": "No move to offer although {queues} is short",
    "advice.none_short_many": "No move to offer although {queues} are short",
    "advice.none_yet": "No move to offer yet: too few calls to size the queues",
    "advice.none": "No queue is short of agents: nothing to move",
    "advice.no_spare": "no agent skilled for it can be spared without taking a queue below its breach level, "
    "and those skilled already serve it as backups",
    "advice.apply": "apply (confirm)",
    "advice.close": "close",
    "advice.no_snapshot": "No snapshot yet: no advice",
    "advice.failed": "No advice: {error}",
    "advice.in_turn": "Each step is sent once the one before it is done.",
    "advice.skipped": "Not sent, as the step before was not done (or its outcome did not come in time): {steps}",
    # confirmations
    "confirm.title": "Confirm",
    "confirm.yes": " confirm   ",
    "confirm.no": " cancel",
    "confirm.plain_spy": " plain spy (no keypad)",
    "confirm.keypad": " keypad mode",
    "note.takeover": "Your phone rings with the caller; the agent's line is cut. This cannot be undone from here.",
    "note.keypad": "You are on this call in keypad mode: 4 listen, 5 whisper, 6 barge on your phone switch at once.",
    "note.same_mode": "You are on this call in {mode} mode already: this calls your phone again.",
    "note.other_mode": "You are on this call in {mine} mode: this re-originates it in {mode} mode.",
    "call.with": "with {caller} {tail}",
    "call.so_far": "{d} so far",
    # what a request will do (the confirmations; English as ``actions.model.describe`` says it)
    "do.listen": "Listen to {who}{call} — you hear both sides; nobody hears you{keypad}",
    "do.whisper": "Whisper to {who}{call} — the agent hears you, the caller will not hear you{keypad}",
    "do.barge": "Barge to {who}{call} — both the agent and the caller hear you{keypad}",
    "do.on_the_call": " on the call {call}",
    "do.on_call": " on call {id}",
    "do.keypad": " (keypad: 4 listen, 5 whisper, 6 barge)",
    "do.takeover": "Take over {who}'s call{call} — the caller is put through to your phone; {who} drops out",
    "do.back_in": ", back in {m} min",
    "do.add": "Add {who} to {queue} at penalty {penalty}{revert}",
    "do.remove": "Remove {who} from {queue}{revert}",
    "do.penalty": "Set {who}'s penalty in {queue} to {penalty}{revert}",
    "do.in_queue": " in {queue}",
    "do.reason": " ({reason})",
    "do.pause": "Pause {who}{where}{reason}",
    "do.unpause": "Unpause {who}{where}",
    "do.alert": "{type} the {metric} alert of {queue}",
    # the agent's scorecard
    "card.title": "{name}: today against targets",
    "card.close": "esc close",
    "card.figure": "Figure",
    "card.today": "Today",
    "card.target": "Target",
    "card.met": "met",
    "blank": "",
    "card.missed": "missed",
    # the pause and move dialogs
    "pause.title": "Pause",
    "pause.why": "Pause {name}: why?",
    "pause.keys": " choose   ",
    "move.title": "Move {name} ({id})",
    "move.queue": "Queue",
    "move.label": "Label",
    "move.member": "Member",
    "move.level": "Level",
    "move.waiting": "Waiting",
    "move.operation": "Operation",
    "move.penalty": "Penalty",
    "move.revert": "Auto-revert",
    "move.add": "add",
    "move.remove": "remove",
    "move.penalty_op": "penalty",
    "move.minutes": "{m} min",
    "move.off": "off",
    "move.pen": "pen {p}",
    "move.next": " next (confirm)   ",
    "move.next_field": " next field   ",
    "move.choose": " choose   ",
    "move.no_queue": "no queue to choose",
    "move.in_already": "{name} is in {queue} already: choose penalty or remove",
    "move.not_in": "{name} is not in {queue}: choose add",
    "move.same_penalty": "{name} is at penalty {penalty} in {queue} now: type another, or choose remove",
    "move.whole": "the penalty is a whole number (0 is best)",
    # the drill-down
    "fig.figure": "Figure",
    "fig.reset": "Since reset",
    "fig.num": "Numerator",
    "fig.den": "Denominator",
    "fig.rolling": "Rolling {m}m",
    "fig.frac": "Num / den",
    "fig.now": "now",
    "drill.none": "no snapshot yet",
    "drill.gone": "{queue}: not in the latest snapshot",
    "drill.total": "Centre total",
    "drill.total_how": "  all queues · SL = sum of numerators / sum of denominators",
    "drill.sl_within": "  SL within {s:g}s · {formula}",
    "drill.overflow": " (overflow counted)",
    "drill.short": " · short abandon ≤ {s:g}s",
    "drill.closed": "  CLOSED",
    "drill.acked": " (ack {user})",
    "drill.snoozed": " (snoozed to {t})",
    "level.warn": "warn",
    "level.breach": "breach",
    "level.ok": "ok",
    "level.closed": "closed",
    "explain.gauge": "{label}: the value now, not counted over a window",
    "explain.counter": "{label}: {reset} since the reset, {rolling} in the last {m} min",
    "explain.none": "{label}: {value} (no formula in this snapshot)",
    "explain.reset": "since reset {num} / {den} = {value}",
    "explain.rolling": "last {m} min {num} / {den} = {value}",
    "total_sl": "sum of the queues' SL numerators / sum of their denominators (each queue by its own formula)",
    "ewt": "EWT",
    "ewt_formula": "(waiting + 1) × AHT / agents available or busy in the queue",
    "ewt_slots_formula": "max(0, waiting + 1 − free slots) × AHT / slots (agents' capacities summed)",
    "windows": "Windows: ",
    "window.reset": "since reset {t}",
    "window.all": "all input",
    "window.rolling": "rolling, minutes starting at or after {t}",
    "window.last": "last {m} min",
    "window.last_paren": " (last {m} min)",
}

HE: dict[str, str] = {
    "col.name": "תור",
    "col.channel": "ערוץ",
    "col.waiting": "בתור",
    "col.longest": "הארוכה",
    "col.sl": "שירות",
    "col.sl_rolling": "שירות {m}",
    "col.asa": "מענה",
    "col.avg_wait": "המתנה",
    "col.abandon_rate": "נטישה",
    "col.offered": "הוצעו",
    "col.answered": "נענו",
    "col.abandoned": "ננטשו",
    "col.ewt": "צפויה",
    "col.avail": "פנויים",
    "col.busy": "עסוקים",
    "col.paused": "הפסקה",
    "col.trend": "מגמה",
    "total": 'סה"כ',
    "all_channels": "הכל",
    "col.agent": "נציג",
    "col.state": "מצב",
    "col.time": "זמן",
    "col.alerts": "התראות",
    "col.calls": "טופלו",
    "col.missed": "פוספסו",
    "col.queues": "תורים",
    "col.load": "עומס",
    "col.queue": "תור",
    "col.caller": "מתקשר",
    "col.wait": "המתנה",
    "col.penalty": "עדיפות",
    "col.drill_calls": "שיחות",
    "col.kind": "סוג",
    "col.entered": "נכנס",
    "box.agents": "נציגים",
    "box.waiting": "ממתינים עכשיו",
    "box.drill_callers": "ממתינים ושיחות חוזרות",
    "state.available": "פנוי",
    "state.ringing": "מצלצל",
    "state.on_call": "בשיחה",
    "state.wrap_up": "סיכום",
    "state.paused": "בהפסקה",
    "state.logged_out": "מנותק",
    # the shipped pause reasons (``centre.pause_reasons``' defaults); a centre's own stay as written
    "reason.break": "מנוחה",
    "reason.coaching": "אימון",
    "reason.meeting": "ישיבה",
    "reason.lunch": "צהריים",
    "reason.training": "הדרכה",
    "reason.other": "אחר",
    "paused_for": "הפסקה:{reason}",
    "pause_pending": " ← הפסקה",
    "pause_pending_for": " ← הפסקה:{reason}",
    "spy.listen": "האזנה",
    "spy.whisper": "לחישה",
    "spy.barge": "התפרצות",
    "spy.keypad": "מקשים",
    "spy.unknown": "האזנה",
    "taken": "נלקחה:{by}",
    "alert.long_call": "שיחה ארוכה",
    "alert.long_wrap": "סיכום ארוך",
    "alert.long_pause": "הפסקה ארוכה",
    "alert.missed_in_row": "פספוסים ברצף",
    "kind.waiting": "ממתין",
    "kind.callback": "שיחה חוזרת",
    "since": " · מאז {t}",
    "since_reset": " · מאז האיפוס",
    "all_input": " · כל הקלט",
    "seq": " · רצף {n}",
    "stale": "לא מעודכן — אין נתונים מאז {since}",
    "stale_start": "ההתחלה (עוד אין תמונת מצב)",
    "badge.loud": " חריגות: {n}",
    "badge.acked": "{n} אושרו",
    "badge.snoozed": "{n} נדחו עד {t}",
    "badge.acked_short": "{n} אושרו",
    "badge.snoozed_short": "{n} עד {t}",
    "badge.one": "חריגה",
    "badge.many": "חריגות",
    "key.drill": "פירוט",
    "key.ack": "אישור",
    "key.snooze": "דחייה {m} דק׳",
    "key.advice": "עצה",
    "key.toggle_flash": "הבהוב",
    "key.help": "עזרה",
    "key.quit": "יציאה",
    "key.listen": "האזנה",
    "key.whisper": "לחישה",
    "key.barge": "התפרצות",
    "key.takeover": "השתלטות",
    "key.move": "העברה",
    "key.pause": "הפסקה",
    "key.unpause": "סיום הפסקה",
    "key.back": "חזרה",
    "demo.elsewhere": "ההדגמה הזו, במקום אחר",
    "demo.follow": "במסוף אחר, בלי דגלים, אלה מציגים את ההדגמה הזו ({prefix}): `wallboard board` (הטלוויזיה "
    "במסוף), `wallboard serve` (דף הטלוויזיה: פתחו את הכתובת שהוא מדפיס), `wallboard advise`, "
    "`wallboard snapshot`, `wallboard report --period day`. הקישו q כאן כדי לעצור את ההדגמה.",
    "keyshort.drill": "פירוט",
    "keyshort.snooze": "דחייה",
    "keyshort.toggle_flash": "הבהוב",
    "help.advice": "עצה בעומס (העברות)",
    "help.takeover": "השתלטות על השיחה",
    "help.move": "העברה (תורים)",
    "help.pause": "הפסקה/סיום הפסקה",
    "help.title": "עזרה",
    "help.subtitle": "↑↓ גלילה · esc סגירה",
    "help.keys": "מקשים",
    "help.palette": "לוח הפקודות (כל אחת בשמה)",
    "help.tab": "הטבלה הבאה",
    "help.colours": "[b]צבעים[/b]: [yellow]אזהרה[/yellow], [bold red]חריגה[/bold red] (מהבהבת עד אישור או דחייה), "
    "[grey50]סגור[/grey50].",
    "help.ack": "אישור ודחייה פועלים על מדדי התור הנבחר שבאזהרה או בחריגה.",
    "help.agent_keys": "מקשי הנציג פועלים על הנציג הנבחר (tab לנציגים); כל פעולה מאושרת קודם.",
    "help.notes": "הערות בטבלת [b]הנציגים[/b]:",
    "help.note_spy": "מי מאזין לנציג, ואיך",
    "help.note_move": "העברה זמנית, חוזרת בעוד 14:59",
    "help.note_taken": "rivka לקחה את שיחת הנציג (התראות, ל-5 דקות)",
    "help.remap": "מיפוי מקש בתצורה:",
    "flashing_on": "הבהוב פועל",
    "flashing_off": "הבהוב כבוי",
    "sent": "{label} — נשלח",
    "not_sent": "{label}: לא נשלח: {error}",
    "kind_not_sent": "{kind} לא נשלח: {error}",
    "no_outcome": "{label}: עוד אין תוצאה: האם המבצע (executor) פועל?",
    "outcome_ok": "{label}: בוצע",
    "outcome_bad": "{label}: {result}{pbx}",
    "outcome_pbx": " — מרכזייה: {pbx}",
    "select_queue": "בחרו תור קודם",
    "select_agent": "בחרו נציג קודם",
    "select_agent_tab": "בחרו נציג קודם: tab לטבלת הנציגים",
    "queue_action": "{action} פועל על תור: בחרו תור בטבלת התורים",
    "may_not": "ל-{user} אין הרשאה ל{action}",
    "not_offered": "ל-{user} אין הרשאה ל{action} (לא מוצע)",
    "not_in_team": "{name} אינו בצוות של {user}",
    "paused_already": "{name} כבר בהפסקה",
    "not_paused": "{name} אינו בהפסקה",
    "logged_out": "{name} מנותק",
    "not_on_call": "{name} אינו בשיחה: {nothing}",
    "nothing.listen": "אין למה להאזין",
    "nothing.whisper": "אין שיחה ללחוש בה",
    "nothing.barge": "אין שיחה להתפרץ אליה",
    "nothing.takeover": "אין שיחה להשתלט עליה",
    "no_alert": "{queue}: אין התראה ל{what}",
    "what.ack": "אישור",
    "what.snooze": "דחייה",
    "ack_label": "{queue}: אישור {alerts} {metrics}",
    "snooze_label": "{queue}: דחיית {alerts} {metrics} ל-{m:g} דק׳",
    "alert": "התראת",
    "alerts": "התראות",
    "and": " ו",
    "unknown_keys": "display.keys: מזהי מקש לא ידועים {ids}",
    # an arrow between two Latin names (the demo's queue labels) would read left to right: the right-to-left marks
    # around it point it from the first to the second (``bidi.visual`` draws them as nothing)
    "advice.title": "עצה בעומס",
    "advice.subtitle": "נכון ל-{t} · על סמך {basis}",
    "advice.no_calls": "אין עדיין שיחות",
    "advice.col.queue": "תור",
    "advice.col.required": "נדרשים",
    "advice.col.effective": "בפועל",
    "advice.col.sl_now": "שירות כעת",
    "advice.col.sl_model": "שירות במודל",
    "advice.col.status": "מצב",
    "advice.col.model": "מודל",
    "advice.status.short": "חסרים {short_by}",
    "advice.status.ok": "תקין",
    "advice.status.slack": "עודף, {spare} פנויים",
    "advice.status.no_estimate": "אין נתונים",
    "advice.status.closed": "סגור",
    "advice.moves": "העברות, הטובה ראשונה (שירות צפוי, במצב יציב):",
    "advice.move": "העברת {name}: {src} \u200f←\u200f {dst}; "
    "שירות {dst} {to_was} \u200f←\u200f {to_now}, {src} {from_was} \u200f←\u200f {from_now}",
    "advice.move_penalty": "העברת {name} (החלפת עדיפויות): {src} \u200f←\u200f {dst}; "
    "שירות {dst} {to_was} \u200f←\u200f {to_now}, {src} {from_was} \u200f←\u200f {from_now}",
    "advice.plan": "תוכנית: {names} בזה אחר זה מעלים את {queue} מ-{was} ל-{now} (צפוי)",
    "advice.none_short_one": "אין העברה להציע אף ש-{queues} חסר נציגים",
    "advice.none_short_many": "אין העברה להציע אף ש-{queues} חסרים נציגים",
    "advice.none_yet": "אין עדיין העברה להציע: מעט מדי שיחות כדי לחשב את התורים",
    "advice.none": "אף תור אינו חסר נציגים: אין מה להעביר",
    "advice.no_spare": "אין נציג מיומן לתור שאפשר לוותר עליו בלי להוריד תור אחר מתחת לרמת החריגה, "
    "והמיומנים כבר משרתים אותו כגיבוי",
    "advice.apply": "החלה (באישור)",
    "advice.close": "סגירה",
    "advice.no_snapshot": "אין עדיין תמונת מצב: אין עצה",
    "advice.failed": "אין עצה: {error}",
    "advice.in_turn": "כל צעד נשלח רק אחרי שהצעד שלפניו בוצע.",
    "advice.skipped": "לא נשלח, כי הצעד שלפניו לא בוצע (או שתוצאתו לא הגיעה בזמן): {steps}",
    "confirm.title": "אישור",
    "confirm.yes": " אישור   ",
    "confirm.no": " ביטול",
    "confirm.plain_spy": " האזנה רגילה (בלי מקשים)",
    "confirm.keypad": " מצב מקשים",
    "note.takeover": "הטלפון שלך יצלצל עם המתקשר; קו הנציג ינותק. אי אפשר לבטל זאת מכאן.",
    "note.keypad": "את/ה בשיחה הזו במצב מקשים: 4 האזנה, 5 לחישה, 6 התפרצות בטלפון עוברים מיד.",
    "note.same_mode": "את/ה כבר בשיחה הזו במצב {mode}: הטלפון שלך יצלצל שוב.",
    "note.other_mode": "את/ה בשיחה הזו במצב {mine}: היא תחובר מחדש במצב {mode}.",
    "call.with": "עם {caller} {tail}",
    "call.so_far": "{d} עד כה",
    "do.listen": "האזנה ל{who}{call} — שומעים את שני הצדדים; איש אינו שומע אותך{keypad}",
    "do.whisper": "לחישה ל{who}{call} — הנציג שומע אותך, המתקשר לא ישמע אותך{keypad}",
    "do.barge": "התפרצות לשיחה של {who}{call} — גם הנציג וגם המתקשר שומעים אותך{keypad}",
    "do.on_the_call": " בשיחה {call}",
    "do.on_call": " בשיחה {id}",
    "do.keypad": " (מקשים: 4 האזנה, 5 לחישה, 6 התפרצות)",
    "do.takeover": "השתלטות על השיחה של {who}{call} — המתקשר יועבר לטלפון שלך; {who} יוצא/ת מהשיחה",
    "do.back_in": ", חזרה בעוד {m} דק׳",
    "do.add": "הוספת {who} לתור {queue} בעדיפות {penalty}{revert}",
    "do.remove": "הסרת {who} מהתור {queue}{revert}",
    "do.penalty": "שינוי העדיפות של {who} בתור {queue} ל-{penalty}{revert}",
    "do.in_queue": " בתור {queue}",
    "do.reason": " ({reason})",
    "do.pause": "הפסקה ל{who}{where}{reason}",
    "do.unpause": "סיום הפסקה ל{who}{where}",
    "do.alert": "{type} התראת {metric} בתור {queue}",
    "card.title": "{name}: היום מול היעדים",
    "card.close": "esc סגירה",
    "card.figure": "מדד",
    "card.today": "היום",
    "card.target": "יעד",
    "card.met": "עמד",
    "blank": "",
    "card.missed": "לא עמד",
    "pause.title": "הפסקה",
    "pause.why": "הפסקה ל{name}: למה?",
    "pause.keys": " בחירה   ",
    "move.title": "העברת {name} ({id})",
    "move.queue": "תור",
    "move.label": "שם",
    "move.member": "חבר",
    "move.level": "מצב",
    "move.waiting": "ממתינים",
    "move.operation": "פעולה",
    "move.penalty": "עדיפות",
    "move.revert": "חזרה אוטומטית",
    "move.add": "הוספה",
    "move.remove": "הסרה",
    "move.penalty_op": "עדיפות",
    "move.minutes": "{m} דק׳",
    "move.off": "כבוי",
    "move.pen": "עדיפות {p}",
    "move.next": " הלאה (אישור)   ",
    "move.next_field": " השדה הבא   ",
    "move.choose": " בחירה   ",
    "move.no_queue": "אין תור לבחור",
    "move.in_already": "{name} כבר בתור {queue}: בחרו עדיפות או הסרה",
    "move.not_in": "{name} אינו בתור {queue}: בחרו הוספה",
    "move.same_penalty": "{name} בעדיפות {penalty} בתור {queue} עכשיו: הקלידו אחרת, או בחרו הסרה",
    "move.whole": "העדיפות היא מספר שלם (0 הטובה ביותר)",
    "fig.figure": "מדד",
    "fig.reset": "מאז האיפוס",
    "fig.num": "מונה",
    "fig.den": "מכנה",
    "fig.rolling": "{m} דק׳ אחרונות",
    "fig.frac": "מונה / מכנה",
    "fig.now": "עכשיו",
    "drill.none": "עוד אין תמונת מצב",
    "drill.gone": "{queue}: לא בתמונת המצב האחרונה",
    "drill.total": 'סה"כ המוקד',
    "drill.total_how": "  כל התורים · רמת שירות = סכום המונים / סכום המכנים",
    "drill.sl_within": "  רמת שירות תוך {s:g} שנ׳ · {formula}",
    "drill.overflow": " (כולל גלישה)",
    "drill.short": " · נטישה קצרה ≤ {s:g} שנ׳",
    "drill.closed": "  סגור",
    "drill.acked": " (אושר ע״י {user})",
    "drill.snoozed": " (נדחה עד {t})",
    "level.warn": "אזהרה",
    "level.breach": "חריגה",
    "level.ok": "תקין",
    "level.closed": "סגור",
    "explain.gauge": "{label}: הערך עכשיו, לא נספר על פני חלון",
    "explain.counter": "{label}: {reset} מאז האיפוס, {rolling} ב-{m} הדקות האחרונות",
    "explain.none": "{label}: {value} (אין נוסחה בתמונת המצב)",
    "explain.reset": "מאז האיפוס {num} / {den} = {value}",
    "explain.rolling": "{m} דק׳ אחרונות {num} / {den} = {value}",
    "total_sl": "סכום מוני רמת השירות של התורים / סכום המכנים (כל תור לפי הנוסחה שלו)",
    "ewt": "המתנה צפויה",
    "ewt_formula": "(ממתינים + 1) × זמן טיפול / נציגים פנויים או עסוקים בתור",
    "ewt_slots_formula": "max(0, ממתינים + 1 − מקומות פנויים) × זמן טיפול / מקומות (סכום קיבולות הנציגים)",
    "windows": "חלונות: ",
    "window.reset": "מאז האיפוס {t}",
    "window.all": "כל הקלט",
    "window.rolling": "מתגלגל, דקות מ-{t} והלאה",
    "window.last": "{m} דק׳ אחרונות",
    "window.last_paren": " ({m} דק׳ אחרונות)",
}

WORDS: dict[str, dict[str, str]] = {"en": EN, "he": HE}

# Channel names short enough for the queue table's channel column (5 cells); English is ``channels.short``'s.
SHORT_CHANNELS_HE = {"voice": "קולי", "chat": "צ'אט", "messaging": "מסרים", "email": 'דוא"ל', "social": "רשתות"}


class Words:
    """One language's words: ``w("key", **fields)``; ``rtl`` for the screens that lay out right to left, and
    ``show`` for a text as the terminal must get it (``bidi``: ``visual`` reorders, ``terminal`` leaves it)."""

    def __init__(self, language: str = "en", bidi: str = "visual") -> None:
        self.language = language if language in WORDS else "en"
        self.table = WORDS[self.language]
        self.rtl = self.language == "he"
        self.bidi = bidi

    def show(self, text: str) -> str:
        """``text`` for the screen: unchanged in English, in display order on a right-to-left desk."""
        return visual(text, True, self.bidi) if self.rtl else text

    def wrapped(self, text: str, width: int) -> str:
        """``text`` for the screen in lines of at most ``width`` cells: a right-to-left text is cut into lines in
        reading order first, then each reordered (a screen wrapping display-order text would put the sentence's
        end on the first line); unchanged in English (the screen wraps it)."""
        if not self.rtl:
            return text
        lines = []
        for paragraph in text.split("\n"):
            cut = textwrap.wrap(paragraph, max(10, width), break_on_hyphens=False) or [""]
            lines.extend(self.show(line) for line in cut)
        return "\n".join(lines)

    def markup_line(self, line: str) -> Text:
        """One line of markup for the screen: on a right-to-left desk reordered for display, each styled
        stretch (a word or a few) styled where it lands, and aligned right."""
        text = Text.from_markup(line)
        if not self.rtl:
            return text
        plain = text.plain
        shown = Text(visual(plain, True, self.bidi), justify="right")
        for span in text.spans:
            part = visual(plain[span.start : span.end], True, self.bidi).strip()
            at = shown.plain.find(part) if part else -1
            if at >= 0:
                shown.stylize(span.style, at, at + len(part))
        return shown

    def line(self, *pieces: tuple[str, str]) -> Text:
        """Styled pieces of one line, from the right on a right-to-left desk (each keeps its style)."""
        return visual_pieces(list(pieces), self.bidi) if self.rtl else Text.assemble(*pieces)

    def __call__(self, key: str, **fields) -> str:
        text = self.table[key]
        return text.format(**fields) if fields else text

    def state(self, state: str) -> str:
        return self.table.get(f"state.{state}", state.replace("_", " "))

    def reason(self, reason: str) -> str:
        """A pause reason in this language: the shipped defaults (``config.DEFAULT_PAUSE_REASONS``) translated, a
        centre's own reason as written (the request still carries the reason as configured)."""
        return self.table.get(f"reason.{reason}", reason)

    def alert(self, name: str) -> str:
        return self.table.get(f"alert.{name}", name)

    def spy(self, mode: str) -> str:
        return self.table.get(f"spy.{mode}", mode)

    def level(self, level: str) -> str:
        return self.table.get(f"level.{level}", level)

    def channel(self, channel: str) -> str:
        from ..channels import short

        if self.language == "he":
            return SHORT_CHANNELS_HE.get(channel, channel[:5])
        return short(channel)


ENGLISH = Words("en")


def describe(req, agent_name: str | None = None, call: str | None = None, w: Words = ENGLISH) -> str:
    """What a request will do, in the confirmation's words (``actions.model.describe``'s, in ``w``'s language):
    ``call`` names the agent's call as the supervisor knows it; without it, its id."""
    from ..actions.model import Move, Pause, Spy, Takeover

    who = agent_name or getattr(req, "agent", "")
    if isinstance(req, Spy):
        where = w("do.on_the_call", call=call) if call else w("do.on_call", id=req.call_id) if req.call_id else ""
        return w(f"do.{req.type}", who=who, call=where, keypad=w("do.keypad") if req.keypad else "")
    if isinstance(req, Takeover):
        where = f" {call}" if call else f" {req.call_id}" if req.call_id else ""
        return w("do.takeover", who=who, call=where)
    if isinstance(req, Move):
        revert = w("do.back_in", m=int(req.revert_after_s // 60)) if req.revert_after_s else ""
        return w(f"do.{req.op}", who=who, queue=req.queue, penalty=req.penalty, revert=revert)
    if isinstance(req, Pause):
        where = w("do.in_queue", queue=req.queue) if req.queue else ""
        reason = w("do.reason", reason=w.reason(req.reason)) if req.type == "pause" and req.reason else ""
        return w(f"do.{req.type}", who=who, where=where, reason=reason)
    kind = req.type.capitalize() if w.language == "en" else w(f"key.{req.type}", m=0)
    return w("do.alert", type=kind, metric=req.metric, queue=req.queue)
