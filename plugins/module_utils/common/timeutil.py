# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""UTC time helpers, with one injectable clock for the whole engine.

``KARBOR_FAKE_NOW`` (ISO 8601 or epoch seconds) pins "now", which the
scheduler tests use to drive many fire times quickly.
"""

from __future__ import annotations

import datetime
import os
import time

UTC = datetime.timezone.utc


def parse_time(value: str | float | int | datetime.datetime) -> datetime.datetime:
    """Parse an ISO 8601 / ``YYYY-MM-DD HH:MM:SS`` string or epoch into aware UTC."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        return datetime.datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    parsed = datetime.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime.datetime:
    fake = os.environ.get('KARBOR_FAKE_NOW')
    if fake:
        return parse_time(fake)
    return datetime.datetime.now(UTC)


def wall_clock() -> float:
    """Real time, for leases and timeouts (never faked)."""
    return time.time()


def isoformat(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def sort_key(moment: datetime.datetime) -> str:
    """Fixed-width microseconds since the epoch: lexical order is time order."""
    return '%016d' % int(round(moment.timestamp() * 1000000))


def from_sort_key(key: str) -> datetime.datetime:
    """The moment a ``sort_key`` encodes; ValueError for anything else."""
    if len(key) != 16 or not key.isdigit():
        raise ValueError('not a sort key: %r' % key)
    return datetime.datetime.fromtimestamp(int(key) / 1000000.0, UTC)
