# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time triggers: parse, validate and evaluate Karbor's ``time`` triggers.

A trigger is a pattern (``calendar``: an iCalendar VEVENT with one RRULE;
``crontab``: five cron fields) evaluated in an IANA time zone from
``start_time`` to ``end_time``. Unlike Karbor, the per-trigger ``format`` is
honoured, and fire times form one deterministic sequence anchored at
``start_time``, so "which fire times happened in (a, b]" has one answer that
every runner computes alike: that is what makes exactly-once claims possible.

Patterns are evaluated in local wall-clock time (as cron and AWX do) and
each wall-clock time is turned into one UTC instant: a time skipped by a DST
change fires at the instant given by the offset before the change (02:30 on a
spring-forward night fires at 03:30 summer time), and a time that happens
twice fires once, at its first occurrence.
"""

from __future__ import annotations

import datetime
import heapq
import re
from typing import Any, Iterable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError)

from ansible_collections.karbor.protection.plugins.module_utils.engine.trigger_patterns import (
    check_crontab, crontab_to_rrules, need_croniter, need_dateutil, parse_calendar, rule_text)

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None

UTC = timeutil.UTC
FORMATS = ('calendar', 'crontab')
KARBOR_TIME_FORMAT = '%Y-%m-%d %H:%M:%S'

# Configuration defaults (Karbor: min_interval 3600, windows 900..1800; our
# claims make overlapping windows harmless, so the window may be longer).
DEFAULT_MIN_INTERVAL = 3600
DEFAULT_MIN_WINDOW = 60
DEFAULT_MAX_WINDOW = 86400
DEFAULT_WINDOW = 900

# UTC offsets lie within [-12 h, +14 h]; a local wall-clock time is therefore
# within this distance of its instant, which bounds look-ahead and look-back.
_OFFSET_SLACK = datetime.timedelta(hours=15)
_VALIDATE_COUNT = 100
_AWX_CHECK_COUNT = 200
_FREQ_UNITS = {'MINUTELY': datetime.timedelta(minutes=1), 'HOURLY': datetime.timedelta(hours=1),
               'DAILY': datetime.timedelta(days=1), 'WEEKLY': datetime.timedelta(weeks=1)}


def get_zone(name: str | None) -> datetime.tzinfo:
    """An IANA zone by name; UTC when empty."""
    if not name or name.upper() in ('UTC', 'Z', 'ETC/UTC'):
        return UTC
    if zoneinfo is None:
        raise KarborError('Time zones other than UTC need Python 3.9 or later (zoneinfo).')
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput('Unknown time zone %r; use an IANA name such as Europe/Berlin or '
                           'America/New_York (or UTC).' % (name,))


def zone_name(zone: datetime.tzinfo) -> str:
    return getattr(zone, 'key', None) or 'UTC'


def parse_trigger_time(value: Any, option: str) -> datetime.datetime | None:
    """Karbor's ``YYYY-MM-DD HH:MM:SS`` (UTC) or ISO 8601 with an offset, to aware UTC."""
    if value is None or value == '':
        return None
    try:
        if isinstance(value, datetime.datetime):
            moment = value
        else:
            text = str(value).strip()
            if re.match(r'^\d+(\.\d+)?$', text):
                raise ValueError(text)  # epoch seconds are too easy to get wrong here
            moment = timeutil.parse_time(text)
    except (ValueError, TypeError):
        raise InvalidInput('%s %r is not a time; use "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601 '
                           'with an offset, such as 2026-01-31T02:00:00+01:00.' % (option, value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def format_karbor_time(moment: datetime.datetime | None) -> str | None:
    """Karbor's storage format for trigger times (UTC, whole seconds)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime(KARBOR_TIME_FORMAT)


def iso(moment: datetime.datetime) -> str:
    """Fire times as shown to users: ISO 8601, UTC, whole seconds."""
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _naive_local(moment: datetime.datetime, zone: datetime.tzinfo) -> datetime.datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _instant(naive: datetime.datetime, zone: datetime.tzinfo) -> datetime.datetime:
    """A wall-clock time in ``zone`` as UTC (fold=0: see the module docstring)."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _localize_stream(naive_times: Iterable[datetime.datetime],
                     zone: datetime.tzinfo) -> Iterator[datetime.datetime]:
    """Ascending naive wall-clock times -> ascending, de-duplicated UTC instants.

    A DST gap makes the mapping step back by up to an hour, so instants are
    buffered until no later wall-clock time can map before them.
    """
    heap: list[datetime.datetime] = []
    last = None
    for naive in naive_times:
        heapq.heappush(heap, _instant(naive, zone))
        horizon = naive.replace(tzinfo=UTC) - _OFFSET_SLACK
        while heap and heap[0] < horizon:
            moment = heapq.heappop(heap)
            if moment != last:
                last = moment
                yield moment
    while heap:
        moment = heapq.heappop(heap)
        if moment != last:
            last = moment
            yield moment


def _parse_until(value: str, zone: datetime.tzinfo) -> datetime.datetime:
    """UNTIL as UTC: ``...Z`` is UTC, a naive value is wall-clock in ``zone``."""
    text = value.strip().upper()
    try:
        if text.endswith('Z'):
            return datetime.datetime.strptime(text, '%Y%m%dT%H%M%SZ').replace(tzinfo=UTC)
        if 'T' in text:
            return _instant(datetime.datetime.strptime(text, '%Y%m%dT%H%M%S'), zone)
        return _instant(datetime.datetime.strptime(text, '%Y%m%d'), zone)
    except ValueError:
        raise InvalidInput('RRULE UNTIL %r is not a date-time; use YYYYMMDDTHHMMSSZ.' % value)


# -- the trigger ---------------------------------------------------------------------------

class TimeTrigger:
    """One time trigger's schedule: fire times, validation and AWX rrule."""

    def __init__(self, pattern: str, fmt: str = 'calendar', start_time: Any = None,
                 end_time: Any = None, window: int | None = None, timezone: str | None = None,
                 now: datetime.datetime | None = None) -> None:
        if fmt not in FORMATS:
            raise InvalidInput('Trigger format must be calendar or crontab; got %r.' % (fmt,))
        self.format = fmt
        self.zone = get_zone(timezone)
        start = parse_trigger_time(start_time, 'start_time')
        if start is None:  # Karbor's default, to the whole minute so fire times look sane
            start = (now or timeutil.now()).astimezone(UTC).replace(second=0, microsecond=0)
        self.start = start
        self.end = parse_trigger_time(end_time, 'end_time')
        if self.end is not None and self.end <= self.start:
            raise InvalidInput('end_time %s must be after start_time %s.'
                               % (format_karbor_time(self.end), format_karbor_time(self.start)))
        self.window = int(window) if window is not None else DEFAULT_WINDOW
        self.until: datetime.datetime | None = None
        self.parts: dict[str, str] = {}
        if fmt == 'calendar':
            need_dateutil()
            self.parts = parse_calendar(pattern)
            if 'UNTIL' in self.parts:
                self.until = _parse_until(self.parts['UNTIL'], self.zone)
            self.pattern = 'BEGIN:VEVENT\nRRULE:%s\nEND:VEVENT' % rule_text(self.parts)
            self._build_rule(self._naive_start())  # reject what dateutil rejects, now
        else:
            self.pattern = check_crontab(pattern)

    @classmethod
    def from_properties(cls, properties: dict[str, Any]) -> 'TimeTrigger':
        return cls(properties.get('pattern'), properties.get('format') or 'calendar',
                   properties.get('start_time'), properties.get('end_time'),
                   properties.get('window'), properties.get('timezone'))

    def properties(self) -> dict[str, Any]:
        """Karbor's trigger ``properties`` (plus ``timezone``), normalized."""
        return {'format': self.format, 'pattern': self.pattern,
                'start_time': format_karbor_time(self.start),
                'end_time': format_karbor_time(self.end), 'window': self.window,
                'timezone': zone_name(self.zone)}

    @property
    def last_possible(self) -> datetime.datetime | None:
        ends = [t for t in (self.end, self.until) if t is not None]
        return min(ends) if ends else None

    # -- evaluation -------------------------------------------------------------
    def _naive_start(self) -> datetime.datetime:
        return _naive_local(self.start, self.zone)

    def _build_rule(self, dtstart: datetime.datetime):
        rrule = need_dateutil()
        try:
            return rrule.rrulestr(rule_text(self.parts, drop=('UNTIL',)), dtstart=dtstart)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInput('The RRULE %r cannot be parsed: %s.' % (
                rule_text(self.parts), exc))

    def _calendar_naive(self, after: datetime.datetime) -> Iterator[datetime.datetime]:
        """Wall-clock occurrences from somewhat before ``after`` on.

        dateutil iterates from DTSTART, which for a five-minute rule started
        a year ago is 100 000 steps; for rules whose periods have a fixed
        length and no COUNT, DTSTART is moved forward by whole periods,
        which yields the same occurrences.
        """
        dtstart = self._naive_start()
        lower = _naive_local(after, self.zone) - _OFFSET_SLACK
        unit = _FREQ_UNITS.get(self.parts['FREQ'])
        if unit is not None and 'COUNT' not in self.parts:
            period = unit * int(self.parts.get('INTERVAL', '1'))
            periods = (lower - dtstart) // period - 1
            if periods > 0:
                dtstart = dtstart + period * periods
        for moment in self._build_rule(dtstart):
            if moment >= lower:
                yield moment

    def _crontab_naive(self, after: datetime.datetime) -> Iterator[datetime.datetime]:
        begin = max(_naive_local(after, self.zone) - _OFFSET_SLACK,
                    self._naive_start() - datetime.timedelta(seconds=1))
        cron = need_croniter()(self.pattern, begin)
        while True:
            try:
                yield cron.get_next(datetime.datetime)
            except Exception:  # pylint: disable=broad-except
                return  # croniter gives up on patterns that never match (30 February)

    def iter_after(self, after: datetime.datetime | None = None) -> Iterator[datetime.datetime]:
        """Fire times (UTC, ascending) strictly after ``after``, from start_time
        (inclusive) to end_time (inclusive)."""
        after = self.start - datetime.timedelta(seconds=1) if after is None else after
        after = max(after.astimezone(UTC), self.start - datetime.timedelta(microseconds=1))
        naive = self._calendar_naive(after) if self.format == 'calendar' else \
            self._crontab_naive(after)
        stop = self.last_possible
        for moment in _localize_stream(naive, self.zone):
            if moment <= after or moment < self.start:
                continue
            if stop is not None and moment > stop:
                return
            yield moment

    def next_times(self, count: int, after: datetime.datetime | None = None
                   ) -> list[datetime.datetime]:
        result = []
        if count <= 0:
            return result
        for moment in self.iter_after(after):
            result.append(moment)
            if len(result) >= count:
                break
        return result

    def between(self, after: datetime.datetime, until: datetime.datetime,
                limit: int | None = None) -> list[datetime.datetime]:
        """Fire times in (after, until], oldest first, at most ``limit``."""
        result = []
        for moment in self.iter_after(after):
            if moment > until:
                break
            result.append(moment)
            if limit and len(result) >= limit:
                break
        return result

    # -- validation ---------------------------------------------------------------
    def validate(self, min_interval: int = DEFAULT_MIN_INTERVAL,
                 min_window: int = DEFAULT_MIN_WINDOW, max_window: int = DEFAULT_MAX_WINDOW,
                 now: datetime.datetime | None = None) -> None:
        """Karbor's checks, done on many fire times instead of the next two."""
        if min_window > max_window:
            raise InvalidInput('The configured min_window (%d s) is above max_window (%d s).'
                               % (min_window, max_window))
        if not min_window <= self.window <= max_window:
            raise InvalidInput('window %d s is out of range: it must be between %d and %d '
                               'seconds (options min_window/max_window, env KARBOR_MIN_WINDOW/'
                               'KARBOR_MAX_WINDOW).' % (self.window, min_window, max_window))
        now = now or timeutil.now()
        times = self.next_times(_VALIDATE_COUNT, max(now, self.start) - datetime.timedelta(
            microseconds=1))
        if not times:
            raise InvalidInput('The trigger never fires after %s: its pattern, end_time or '
                               'COUNT/UNTIL leave no future fire time.' % iso(max(now, self.start)))
        for first, second in zip(times, times[1:]):
            gap = (second - first).total_seconds()
            if gap < min_interval:
                raise InvalidInput(
                    'The trigger fires %d s apart (%s and %s), below the minimum interval of '
                    '%d s; make the pattern less frequent or lower min_interval (env '
                    'KARBOR_MIN_INTERVAL).' % (gap, iso(first), iso(second), min_interval))

    # -- AWX ------------------------------------------------------------------------
    def _awx_dtstart(self) -> str:
        if self.zone is UTC:
            return 'DTSTART:%s' % self.start.strftime('%Y%m%dT%H%M%SZ')
        return 'DTSTART;TZID=%s:%s' % (zone_name(self.zone),
                                       self._naive_start().strftime('%Y%m%dT%H%M%S'))

    def awx_rrule(self) -> tuple[str | None, str | None]:
        """(AWX schedule rrule, note). The rrule is None when AWX cannot
        express the trigger; the note says why and what to do instead."""
        if self.format == 'calendar':
            parts = dict(self.parts)
            parts.pop('UNTIL', None)
            rules = [parts]
        else:
            converted = crontab_to_rrules(self.pattern)
            if converted is None:
                return None, ('Crontab pattern %r has no RRULE equivalent; let a frequent AWX '
                              'schedule (or cron) run playbooks/run_scheduled.yml instead.'
                              % self.pattern)
            rules = [parse_calendar(text) for text in converted]
            if not self._same_fire_times(converted):
                return None, ('The RRULE made from crontab %r does not fire at the same times; '
                              'use a frequent AWX schedule running run_scheduled.yml.'
                              % self.pattern)
        note = None
        texts = []
        for parts in rules:
            parts = dict(parts)
            parts.setdefault('INTERVAL', '1')
            ordered = {'FREQ': parts.pop('FREQ'), 'INTERVAL': parts.pop('INTERVAL')}
            ordered.update(parts)
            if re.search(r'(^|,)[+-]?\d+[A-Z]{2}', ordered.get('BYDAY', '')):
                return None, ('AWX rejects BYDAY with a number (such as 2MO); let a frequent AWX '
                              'schedule run run_scheduled.yml for this trigger.')
            if 'COUNT' in ordered and int(ordered['COUNT']) > 999:
                return None, 'AWX accepts COUNT up to 999 only.'
            stop = self.last_possible
            if stop is not None:
                if 'COUNT' in ordered:
                    note = ('AWX cannot combine COUNT with UNTIL; end_time is enforced by '
                            'run_scheduled.yml.')
                else:
                    ordered['UNTIL'] = stop.strftime('%Y%m%dT%H%M%SZ')
            texts.append('RRULE:' + rule_text(ordered))
        return ' '.join([self._awx_dtstart()] + texts), note

    def _same_fire_times(self, rules: list[str]) -> bool:
        """Check a crontab conversion on the first fire times from start."""
        mine = self.next_times(_AWX_CHECK_COUNT)
        merged: set[datetime.datetime] = set()
        for text in rules:
            other = TimeTrigger('RRULE:' + text, 'calendar', self.start, self.end, self.window,
                                zone_name(self.zone))
            merged.update(other.next_times(_AWX_CHECK_COUNT))
        return sorted(merged)[:len(mine)] == mine

    def describe(self, count: int = 5, now: datetime.datetime | None = None) -> dict[str, Any]:
        """What the modules show: next fire times and the AWX rrule."""
        now = now or timeutil.now()
        rrule, note = self.awx_rrule()
        return {'next_run_times': [iso(t) for t in self.next_times(count, now)],
                'awx_rrule': rrule, 'awx_rrule_note': note}
