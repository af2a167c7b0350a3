"""The cash ledger. Every movement of cash is an entry with a reason and a tick.

Accounts are strings: `agent:<id>`, `building:<id>`, `town` (the treasury, paid for equipment use
and buildings the town sells), and named sources and sinks: `source:<name>` may go below zero
(money enters the town there: starting grants, wages paid by the economy), `sink:<name>` only
receives. No other account may go below zero, so money is neither created nor destroyed except
through those names. The sum of all balances is always zero.
"""

from __future__ import annotations

from collections import defaultdict

from server.errors import InsufficientFunds, InvalidAccount, InvalidAmount
from server.records import Entry


class Ledger:
    """Balances plus the entries not yet persisted."""

    def __init__(self) -> None:
        self._balances: dict[str, int] = defaultdict(int)
        self.pending: list[Entry] = []

    def balance(self, account: str) -> int:
        return self._balances.get(account, 0)

    def can_pay(self, account: str, amount: int) -> bool:
        return account.startswith("source:") or self.balance(account) >= amount

    def transfer(self, tick: int, src: str, dst: str, amount: int, reason: str) -> Entry:
        """Move `amount` from `src` to `dst`, or raise without changing anything."""
        if amount <= 0:
            raise InvalidAmount(f"amount must be positive, got {amount}")
        if src == dst:
            raise InvalidAmount("cannot pay oneself")
        if src.startswith("sink:") or dst.startswith("source:"):
            raise InvalidAccount(f"money cannot flow {src} -> {dst}")
        if not self.can_pay(src, amount):
            raise InsufficientFunds(f"{src} has {self.balance(src)}, needs {amount} for {reason}")
        e = Entry(tick, src, dst, amount, reason)
        self.apply(e)
        self.pending.append(e)
        return e

    def apply(self, e: Entry) -> None:
        """Replay an entry (loading from the database): no checks, no pending."""
        self._balances[e.src] -= e.amount
        self._balances[e.dst] += e.amount

    def drain(self) -> list[Entry]:
        out, self.pending = self.pending, []
        return out

    def total(self) -> int:
        """The sum of all balances: zero for a sound ledger."""
        return sum(self._balances.values())

    def accounts(self) -> dict[str, int]:
        return dict(self._balances)
