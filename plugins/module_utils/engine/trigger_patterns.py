# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trigger patterns: Karbor's ``calendar`` (one iCalendar RRULE) and
``crontab`` (five cron fields) parsed and checked, and a crontab turned into
the RRULEs that fire at the same times (what an AWX schedule needs)."""

from __future__ import annotations

import datetime
import json
import re

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError)

# dateutil and croniter are imported by the triggers that use them (need_dateutil(),
# need_croniter()), not here: together they cost every module run about 25 ms.

_CRON_DAYS = ('SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA')
_ALLOWED_RRULE_PARTS = {'FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'WKST', 'BYSECOND', 'BYMINUTE',
                        'BYHOUR', 'BYDAY', 'BYMONTHDAY', 'BYYEARDAY', 'BYWEEKNO', 'BYMONTH',
                        'BYSETPOS'}


def need_dateutil():
    """dateutil's ``rrule`` module, imported now."""
    try:
        from dateutil import rrule
    except ImportError:
        raise KarborError('The python-dateutil library is required for calendar triggers; '
                          'install it (pip install python-dateutil).')
    return rrule


def need_croniter():
    """The ``croniter`` class, imported now."""
    try:
        from croniter import croniter
    except ImportError:
        raise KarborError('The croniter library is required for crontab triggers; install it '
                          '(pip install croniter).')
    return croniter


# -- calendar (iCalendar RRULE) -------------------------------------------------------

def parse_calendar(pattern: str) -> dict[str, str]:
    """The RRULE of a Karbor calendar pattern as an ordered dict of parts.

    Accepts ``BEGIN:VEVENT\\nRRULE:...\\nEND:VEVENT`` (with real or escaped
    newlines, as Karbor does), a bare ``RRULE:...`` line or ``FREQ=...``.
    """
    text = str(pattern or '').strip()
    if not text:
        raise InvalidInput('The trigger pattern is empty; give an RRULE such as '
                           '"BEGIN:VEVENT\\nRRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=2\\nEND:VEVENT".')
    if '\\' in text:
        try:
            text = json.loads('"%s"' % text.replace('"', '\\"'))
        except ValueError:
            text = text.replace('\\n', '\n')
    lines = [line.strip() for line in re.split(r'[\r\n]+', text) if line.strip()]
    rules = []
    for line in lines:
        name, _sep, value = line.partition(':')
        upper = name.strip().upper()
        if upper in ('BEGIN', 'END') and value.strip().upper() == 'VEVENT':
            continue
        if upper == 'RRULE':
            rules.append(value)
        elif upper.startswith('FREQ='):
            rules.append(line)
        else:
            raise InvalidInput('Calendar pattern line %r is not supported; a calendar trigger '
                               'is one RRULE (optionally inside BEGIN:VEVENT/END:VEVENT). Put '
                               'the first run time in start_time, not DTSTART.' % line)
    if len(rules) != 1:
        raise InvalidInput('A calendar pattern needs exactly one RRULE line; found %d.'
                           % len(rules))
    parts: dict[str, str] = {}
    for item in rules[0].strip().strip(';').split(';'):
        if not item.strip():
            continue
        key, sep, value = item.partition('=')
        key = key.strip().upper()
        if not sep or not value.strip():
            raise InvalidInput('RRULE part %r is not KEY=VALUE.' % item)
        if key not in _ALLOWED_RRULE_PARTS:
            raise InvalidInput('RRULE part %s is not supported; use FREQ, INTERVAL, COUNT, UNTIL, '
                               'WKST and BY* parts.' % key)
        if key in parts:
            raise InvalidInput('RRULE part %s is given twice.' % key)
        parts[key] = value.strip().upper()
    freq = parts.get('FREQ')
    if freq not in ('MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'):
        raise InvalidInput('RRULE FREQ must be one of MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, '
                           'YEARLY; got %r.' % freq)
    if 'COUNT' in parts and 'UNTIL' in parts:
        raise InvalidInput('An RRULE cannot have both COUNT and UNTIL.')
    return parts


def rule_text(parts: dict[str, str], drop: tuple = ()) -> str:
    return ';'.join('%s=%s' % (k, v) for k, v in parts.items() if k not in drop)


# -- crontab ---------------------------------------------------------------------------

def check_crontab(pattern: str) -> str:
    croniter = need_croniter()
    text = ' '.join(str(pattern or '').split())
    if len(text.split(' ')) != 5:
        raise InvalidInput('Crontab pattern %r must have five fields (minute hour day-of-month '
                           'month day-of-week), such as "0 2 * * *".' % (pattern,))
    try:
        valid = croniter.is_valid(text)
    except Exception:  # pylint: disable=broad-except
        valid = False
    if not valid:
        raise InvalidInput('Crontab pattern %r cannot be parsed; check each of the five fields '
                           '(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7).'
                           % (pattern,))
    return text


def crontab_to_rrules(pattern: str) -> list[str] | None:
    """The RRULE(s) equivalent to a crontab pattern, or None.

    Every cron field maps to a BY* list of FREQ=DAILY; when both day of month
    and day of week are restricted cron fires on either, which takes two RRULEs.
    """
    cron = need_croniter()(pattern, datetime.datetime(2000, 1, 1))
    if getattr(cron, 'nth_weekday_of_month', None):
        return None
    minutes, hours, days, months, weekdays = cron.expanded[:5]

    def ints(values: list, low: int, high: int) -> list[int] | None:
        if values == ['*']:
            return list(range(low, high + 1))
        if not all(isinstance(v, int) for v in values):
            return None
        return sorted(set(values))

    minute_list, hour_list = ints(minutes, 0, 59), ints(hours, 0, 23)
    if minute_list is None or hour_list is None:
        return None
    base = ['FREQ=DAILY', 'INTERVAL=1']
    if months != ['*']:
        month_list = ints(months, 1, 12)
        if month_list is None:
            return None
        base.append('BYMONTH=' + ','.join(map(str, month_list)))
    tail = ['BYHOUR=' + ','.join(map(str, hour_list)),
            'BYMINUTE=' + ','.join(map(str, minute_list)), 'BYSECOND=0']
    day_part = None
    if days != ['*']:
        values = []
        for value in days:
            if value == 'l':
                values.append(-1)
            elif isinstance(value, int):
                values.append(value)
            else:
                return None
        day_part = 'BYMONTHDAY=' + ','.join(map(str, sorted(set(values))))
    weekday_part = None
    if weekdays != ['*']:
        if not all(isinstance(v, int) for v in weekdays):
            return None
        weekday_part = 'BYDAY=' + ','.join(_CRON_DAYS[v % 7] for v in sorted(set(weekdays)))
    if day_part and weekday_part:
        return [';'.join(base + [day_part] + tail), ';'.join(base + [weekday_part] + tail)]
    return [';'.join(base + [p for p in (day_part, weekday_part) if p] + tail)]
