"""Game time. It advances only by ticks; nothing reads the wall clock."""

from __future__ import annotations

from dataclasses import dataclass

DAY_START_MINUTE = 8 * 60  # a new town wakes at 08:00 on day 1


@dataclass(slots=True)
class Clock:
    """Tick counter and game seconds. `tick_seconds` game seconds pass per tick."""

    tick: int = 0
    tick_seconds: int = 10
    start_minute: int = DAY_START_MINUTE

    def advance(self) -> None:
        self.tick += 1

    @property
    def game_seconds(self) -> int:
        return self.start_minute * 60 + self.tick * self.tick_seconds

    @property
    def day(self) -> int:
        return self.game_seconds // 86400 + 1

    @property
    def minute_of_day(self) -> int:
        return (self.game_seconds % 86400) // 60

    def __str__(self) -> str:
        m = self.minute_of_day
        return f"Day {self.day} {m // 60:02d}:{m % 60:02d}"
