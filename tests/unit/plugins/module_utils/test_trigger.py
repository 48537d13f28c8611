# -*- coding: utf-8 -*-
"""Time triggers: RRULE and crontab evaluation against hand-checked instants
(DST changes, month ends), validation messages and the AWX rrule."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.engine import time_trigger as T
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.engine.time_trigger import TimeTrigger

UTC = datetime.timezone.utc


def at(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%MZ').replace(tzinfo=UTC)


def fires(trigger, count, after=None):
    return [T.iso(t)[:-4] + 'Z' for t in trigger.next_times(count, after)]


def cal(rule):
    return 'BEGIN:VEVENT\nRRULE:%s\nEND:VEVENT' % rule


# -- calendar -----------------------------------------------------------------------------

def test_seed_pattern_every_five_minutes():
    trig = TimeTrigger(cal('FREQ=MINUTELY;INTERVAL=5;'), 'calendar', '2026-01-01 00:00:00')
    assert fires(trig, 3) == ['2026-01-01T00:00Z', '2026-01-01T00:05Z', '2026-01-01T00:10Z']
    assert trig.properties()['pattern'] == cal('FREQ=MINUTELY;INTERVAL=5')


@pytest.mark.parametrize('pattern', [
    'BEGIN:VEVENT\\nRRULE:FREQ=HOURLY;INTERVAL=2;\\nEND:VEVENT',  # escaped, as Karbor accepts
    'RRULE:FREQ=HOURLY;INTERVAL=2',
    'FREQ=HOURLY;INTERVAL=2',
    '  BEGIN:VEVENT\r\nRRULE:FREQ=HOURLY;INTERVAL=2\r\nEND:VEVENT\r\n',
])
def test_calendar_spellings(pattern):
    trig = TimeTrigger(pattern, 'calendar', '2026-01-01 00:00:00')
    assert fires(trig, 2) == ['2026-01-01T00:00Z', '2026-01-01T02:00Z']


def test_start_time_formats():
    karbor = TimeTrigger(cal('FREQ=DAILY'), 'calendar', '2026-05-01 06:00:00')
    offset = TimeTrigger(cal('FREQ=DAILY'), 'calendar', '2026-05-01T08:00:00+02:00')
    zulu = TimeTrigger(cal('FREQ=DAILY'), 'calendar', '2026-05-01T06:00:00Z')
    assert karbor.start == offset.start == zulu.start == at('2026-05-01T06:00Z')
    assert offset.properties()['start_time'] == '2026-05-01 06:00:00'


def test_default_start_is_now_to_the_minute():
    trig = TimeTrigger(cal('FREQ=HOURLY'), now=datetime.datetime(2026, 2, 3, 4, 5, 6, 7, UTC))
    assert trig.start == datetime.datetime(2026, 2, 3, 4, 5, tzinfo=UTC)


def test_daily_across_spring_forward_berlin():
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that night and fires at
    # the offset before the change (01:30Z = 03:30 CEST).
    trig = TimeTrigger(cal('FREQ=DAILY;BYHOUR=2;BYMINUTE=30'), 'calendar',
                       '2026-03-27 00:00:00', timezone='Europe/Berlin')
    assert fires(trig, 4) == ['2026-03-27T01:30Z', '2026-03-28T01:30Z', '2026-03-29T01:30Z',
                              '2026-03-30T00:30Z']


def test_daily_across_fall_back_berlin():
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice and fires once, the first time.
    trig = TimeTrigger(cal('FREQ=DAILY;BYHOUR=2;BYMINUTE=30'), 'calendar',
                       '2026-10-23 00:00:00', timezone='Europe/Berlin')
    assert fires(trig, 4) == ['2026-10-23T00:30Z', '2026-10-24T00:30Z', '2026-10-25T00:30Z',
                              '2026-10-26T01:30Z']


def test_daily_across_spring_forward_new_york():
    # 2026-03-08 02:00 EST -> 03:00 EDT.
    trig = TimeTrigger(cal('FREQ=DAILY;BYHOUR=2;BYMINUTE=30'), 'calendar',
                       '2026-03-07 00:00:00', timezone='America/New_York')
    assert fires(trig, 3) == ['2026-03-07T07:30Z', '2026-03-08T07:30Z', '2026-03-09T06:30Z']


def test_hourly_in_local_time_over_dst_changes_never_doubles():
    spring = TimeTrigger(cal('FREQ=HOURLY'), 'calendar', '2026-03-28 23:00:00',
                         timezone='Europe/Berlin')
    # local 02:00 does not exist and maps onto 03:00 CEST: one fire, not two
    assert fires(spring, 4) == ['2026-03-28T23:00Z', '2026-03-29T00:00Z', '2026-03-29T01:00Z',
                                '2026-03-29T02:00Z']
    fall = TimeTrigger(cal('FREQ=HOURLY'), 'calendar', '2026-10-24 23:00:00',
                       timezone='Europe/Berlin')
    # local 02:00 happens twice: it fires once (00:00Z); the next is 03:00 CET (02:00Z)
    assert fires(fall, 4) == ['2026-10-24T23:00Z', '2026-10-25T00:00Z', '2026-10-25T02:00Z',
                              '2026-10-25T03:00Z']


def test_month_ends():
    day31 = TimeTrigger(cal('FREQ=MONTHLY;BYMONTHDAY=31'), 'calendar', '2026-01-01 00:00:00')
    assert fires(day31, 5) == ['2026-01-31T00:00Z', '2026-03-31T00:00Z', '2026-05-31T00:00Z',
                               '2026-07-31T00:00Z', '2026-08-31T00:00Z']
    last = TimeTrigger(cal('FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23;BYMINUTE=0'), 'calendar',
                       '2027-12-01 00:00:00')
    assert fires(last, 4) == ['2027-12-31T23:00Z', '2028-01-31T23:00Z', '2028-02-29T23:00Z',
                              '2028-03-31T23:00Z']
    # DTSTART on the 31st, no BYMONTHDAY: months without a 31st are skipped (RFC 5545)
    from_31 = TimeTrigger(cal('FREQ=MONTHLY'), 'calendar', '2026-01-31 12:00:00')
    assert fires(from_31, 3) == ['2026-01-31T12:00Z', '2026-03-31T12:00Z', '2026-05-31T12:00Z']


def test_weekly_and_until_and_count():
    weekly = TimeTrigger(cal('FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=6;BYMINUTE=0'), 'calendar',
                         '2026-01-01 00:00:00')  # a Thursday
    assert fires(weekly, 3) == ['2026-01-02T06:00Z', '2026-01-05T06:00Z', '2026-01-09T06:00Z']
    counted = TimeTrigger(cal('FREQ=DAILY;COUNT=2'), 'calendar', '2026-01-01 00:00:00')
    assert fires(counted, 5) == ['2026-01-01T00:00Z', '2026-01-02T00:00Z']
    until = TimeTrigger(cal('FREQ=DAILY;UNTIL=20260103T000000Z'), 'calendar',
                        '2026-01-01 00:00:00')
    assert fires(until, 5) == ['2026-01-01T00:00Z', '2026-01-02T00:00Z', '2026-01-03T00:00Z']


def test_end_time_is_inclusive_and_between_is_half_open():
    trig = TimeTrigger(cal('FREQ=HOURLY'), 'calendar', '2026-01-01 00:00:00',
                       '2026-01-01 03:00:00')
    assert fires(trig, 10) == ['2026-01-01T00:00Z', '2026-01-01T01:00Z', '2026-01-01T02:00Z',
                               '2026-01-01T03:00Z']
    got = trig.between(at('2026-01-01T01:00Z'), at('2026-01-01T02:00Z'))
    assert got == [at('2026-01-01T02:00Z')]
    assert trig.between(at('2026-01-01T00:00Z'), at('2026-01-01T03:00Z'), limit=2) == [
        at('2026-01-01T01:00Z'), at('2026-01-01T02:00Z')]


def test_long_running_trigger_is_evaluated_fast_and_right():
    """DTSTART is moved forward by whole periods; the result equals plain dateutil."""
    from dateutil.rrule import rrulestr
    trig = TimeTrigger(cal('FREQ=MINUTELY;INTERVAL=7'), 'calendar', '2019-01-01 00:00:03',
                       timezone='Europe/Berlin')
    after = at('2026-03-29T00:58Z')
    plain = rrulestr('FREQ=MINUTELY;INTERVAL=7', dtstart=datetime.datetime(2019, 1, 1, 1, 0, 3))
    expected = []
    for naive in plain.xafter(datetime.datetime(2026, 3, 29, 1, 40), inc=True):
        moment = naive.replace(tzinfo=T.get_zone('Europe/Berlin')).astimezone(UTC)
        if moment > after and moment not in expected:
            expected.append(moment)
        if len(expected) == 30:
            break
    assert trig.next_times(30, after) == sorted(expected)


# -- crontab ------------------------------------------------------------------------------

def test_crontab_basic_and_start_inclusive():
    trig = TimeTrigger('*/15 1 * * *', 'crontab', '2026-01-01 01:15:00')
    assert fires(trig, 4) == ['2026-01-01T01:15Z', '2026-01-01T01:30Z', '2026-01-01T01:45Z',
                              '2026-01-02T01:00Z']


def test_crontab_dst_berlin():
    trig = TimeTrigger('30 2 * * *', 'crontab', '2026-03-28 00:00:00', timezone='Europe/Berlin')
    assert fires(trig, 3) == ['2026-03-28T01:30Z', '2026-03-29T01:30Z', '2026-03-30T00:30Z']
    trig = TimeTrigger('30 2 * * *', 'crontab', '2026-10-24 00:00:00', timezone='Europe/Berlin')
    assert fires(trig, 3) == ['2026-10-24T00:30Z', '2026-10-25T00:30Z', '2026-10-26T01:30Z']


def test_crontab_month_ends():
    day31 = TimeTrigger('0 0 31 * *', 'crontab', '2026-01-01 00:00:00')
    assert fires(day31, 3) == ['2026-01-31T00:00Z', '2026-03-31T00:00Z', '2026-05-31T00:00Z']
    last = TimeTrigger('0 0 L * *', 'crontab', '2028-01-01 00:00:00')
    assert fires(last, 3) == ['2028-01-31T00:00Z', '2028-02-29T00:00Z', '2028-03-31T00:00Z']
    leap = TimeTrigger('0 12 29 2 *', 'crontab', '2026-01-01 00:00:00')
    assert fires(leap, 2) == ['2028-02-29T12:00Z', '2032-02-29T12:00Z']


def test_crontab_day_of_month_or_day_of_week():
    trig = TimeTrigger('0 0 1 * 1', 'crontab', '2026-01-01 00:00:00')  # 1st or Mondays
    assert fires(trig, 4) == ['2026-01-01T00:00Z', '2026-01-05T00:00Z', '2026-01-12T00:00Z',
                              '2026-01-19T00:00Z']


# -- validation ---------------------------------------------------------------------------

NOW = at('2026-01-01T00:00Z')


@pytest.mark.parametrize('pattern,fmt,needle', [
    (cal('FREQ=FORTNIGHTLY'), 'calendar', 'FREQ must be one of'),
    (cal('FREQ=DAILY;BYHOUR=25'), 'calendar', 'cannot be parsed'),
    (cal('FREQ=DAILY;FOO=1'), 'calendar', 'RRULE part FOO is not supported'),
    ('BEGIN:VEVENT\nDTSTART:20260101T000000Z\nRRULE:FREQ=DAILY\nEND:VEVENT', 'calendar',
     'start_time, not DTSTART'),
    ('', 'calendar', 'pattern is empty'),
    ('0 2 * *', 'crontab', 'five fields'),
    ('61 2 * * *', 'crontab', 'cannot be parsed'),
    ('0 2 * * *', 'ical', 'format must be calendar or crontab'),
])
def test_unparseable_patterns(pattern, fmt, needle):
    with pytest.raises(InvalidInput) as err:
        TimeTrigger(pattern, fmt, '2026-01-01 00:00:00').validate(now=NOW)
    assert needle in err.value.msg


def test_interval_below_minimum_and_lowered_minimum():
    trig = TimeTrigger(cal('FREQ=MINUTELY;INTERVAL=5'), 'calendar', '2026-01-01 00:00:00')
    with pytest.raises(InvalidInput) as err:
        trig.validate(now=NOW)
    assert '300 s apart' in err.value.msg and 'minimum interval of 3600 s' in err.value.msg
    assert 'KARBOR_MIN_INTERVAL' in err.value.msg
    trig.validate(min_interval=300, now=NOW)


def test_irregular_crontab_is_checked_beyond_the_next_two():
    # Karbor looked at the next two fire times only; 02:00 and 02:05 are 5 minutes apart
    trig = TimeTrigger('0,5 2 * * *', 'crontab', '2026-01-01 00:00:00')
    with pytest.raises(InvalidInput):
        trig.validate(now=at('2026-01-01T02:01Z'))


@pytest.mark.parametrize('window,ok', [(59, False), (60, True), (86400, True), (86401, False)])
def test_window_range(window, ok):
    trig = TimeTrigger(cal('FREQ=DAILY'), 'calendar', '2026-01-01 00:00:00', window=window)
    if ok:
        trig.validate(now=NOW)
    else:
        with pytest.raises(InvalidInput) as err:
            trig.validate(now=NOW)
        assert 'window %d s is out of range' % window in err.value.msg


def test_other_validation_messages():
    with pytest.raises(InvalidInput, match='must be after start_time'):
        TimeTrigger(cal('FREQ=DAILY'), 'calendar', '2026-01-02 00:00:00', '2026-01-01 00:00:00')
    with pytest.raises(InvalidInput, match='Unknown time zone'):
        TimeTrigger(cal('FREQ=DAILY'), 'calendar', '2026-01-01 00:00:00', timezone='Mars/Olympus')
    with pytest.raises(InvalidInput, match='is not a time'):
        TimeTrigger(cal('FREQ=DAILY'), 'calendar', 'tomorrow')
    with pytest.raises(InvalidInput, match='never fires'):
        TimeTrigger(cal('FREQ=DAILY;COUNT=2'), 'calendar', '2025-01-01 00:00:00').validate(now=NOW)
    with pytest.raises(InvalidInput, match='COUNT and UNTIL'):
        TimeTrigger(cal('FREQ=DAILY;COUNT=2;UNTIL=20260101T000000Z'), 'calendar')


# -- AWX rrule ------------------------------------------------------------------------------

def test_awx_rrule_utc_and_interval_always_present():
    trig = TimeTrigger(cal('FREQ=DAILY;BYHOUR=2'), 'calendar', '2026-01-01 00:00:00')
    assert trig.awx_rrule() == ('DTSTART:20260101T000000Z RRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=2',
                                None)


def test_awx_rrule_time_zone_and_end_time():
    trig = TimeTrigger(cal('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO'), 'calendar', '2026-01-01 00:00:00',
                       '2026-06-30 00:00:00', timezone='Europe/Berlin')
    rule, note = trig.awx_rrule()
    assert rule == ('DTSTART;TZID=Europe/Berlin:20260101T010000 '
                    'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;UNTIL=20260630T000000Z')
    assert note is None


def test_awx_rrule_fires_like_the_trigger():
    from dateutil.rrule import rrulestr
    trig = TimeTrigger(cal('FREQ=HOURLY;INTERVAL=6'), 'calendar', '2026-01-01 03:00:00')
    rule, _note = trig.awx_rrule()
    awx = rrulestr(rule.replace(' RRULE:', '\nRRULE:'), forceset=True)
    assert [t.astimezone(UTC) for t in list(awx[:10])] == trig.next_times(10)


def test_awx_rrule_from_crontab():
    trig = TimeTrigger('30 2 * * 1-5', 'crontab', '2026-01-01 00:00:00', timezone='Europe/Berlin')
    rule, note = trig.awx_rrule()
    assert rule == ('DTSTART;TZID=Europe/Berlin:20260101T010000 RRULE:FREQ=DAILY;INTERVAL=1;'
                    'BYDAY=MO,TU,WE,TH,FR;BYHOUR=2;BYMINUTE=30;BYSECOND=0')
    assert note is None
    both = TimeTrigger('0 0 1 * 1', 'crontab', '2026-01-01 00:00:00')
    rule, _note = both.awx_rrule()
    assert rule.count('RRULE:') == 2 and 'BYMONTHDAY=1' in rule and 'BYDAY=MO' in rule
    last = TimeTrigger('0 0 L * *', 'crontab', '2026-01-01 00:00:00')
    assert 'BYMONTHDAY=-1' in last.awx_rrule()[0]


def test_awx_rrule_not_expressible():
    nth = TimeTrigger('0 0 * * 5#2', 'crontab', '2026-01-01 00:00:00')
    rule, note = nth.awx_rrule()
    assert rule is None and 'run_scheduled.yml' in note
    numbered = TimeTrigger(cal('FREQ=MONTHLY;BYDAY=2MO'), 'calendar', '2026-01-01 00:00:00')
    rule, note = numbered.awx_rrule()
    assert rule is None and 'BYDAY with a number' in note


def test_describe():
    trig = TimeTrigger(cal('FREQ=HOURLY'), 'calendar', '2026-01-01 00:00:00')
    info = trig.describe(2, now=at('2026-01-01T05:30Z'))
    assert info['next_run_times'] == ['2026-01-01T06:00:00Z', '2026-01-01T07:00:00Z']
    assert info['awx_rrule'].startswith('DTSTART:20260101T000000Z RRULE:FREQ=HOURLY;INTERVAL=1')
