"""Prices of an equipment's use: per-operation costs and earnings (`functions`), operations only
for a building's owner and employees (`owner_only`), and menus bought in quantities.

The rules (`server.world.rules`) call these when an agent uses an equipment: `operation` finds
what is asked for, `refusal` says why an agent may not, `order_lines` prices a menu order and
`charge` books the cost and each menu line in the ledger. Menu purchases and costs go to the
town's treasury (`town`), as the plain per-use `price` does; earnings come from
`source:economy`, as the plain `income` does, so the ledger stays zero-sum."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.world.town import EquipmentSpec, Operation

if TYPE_CHECKING:
    from agent.state import AgentRecord
    from server.world.things import Building
    from server.world.world import World

MAX_QUANTITY = 99  # of one menu item in one order


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a menu order: item, quantity and the line's total."""

    item: str
    quantity: int
    total: int


def operation(spec: EquipmentSpec, asked: str | None) -> Operation | str:
    """The operation asked for (the first when none is named), or why there is none."""
    name = asked or spec.operations[0]
    try:
        return spec.operation(name)
    except KeyError:
        return f"{spec.shown} does not support {name!r}; it supports {spec.operations}"


def is_staff(world: World, a: AgentRecord, b: Building) -> bool:
    """The agent owns the building (it or its player does) or is employed there."""
    owners = {a.id, a.owner} - {None}
    return b.owner in owners or world.jobs.get(a.id) == b.id


def refusal(world: World, a: AgentRecord, b: Building, spec: EquipmentSpec, op: Operation) -> str | None:
    """Why `a` may not perform `op` here, or None."""
    if op.owner_only and not is_staff(world, a, b):
        return f"{op.name} at {spec.shown} is only for the owner and the employees of {b.name}"
    return None


def order_lines(spec: EquipmentSpec, order: tuple[tuple[str, int], ...]) -> list[Line] | str:
    """A menu order priced line by line, or why it cannot be served. Items match the menu's
    names case-insensitively; an item ordered twice is one line."""
    if order and not spec.menu:
        return f"{spec.shown} has no menu to order from"
    by_lower = {k.lower(): k for k in spec.menu}
    qty: dict[str, int] = {}
    for item, n in order:
        key = by_lower.get(item.strip().lower())
        if key is None:
            return f"{spec.shown} has no {item!r} on its menu; it has {sorted(spec.menu)}"
        if n < 1:
            return f"cannot order {n} {key}"
        qty[key] = qty.get(key, 0) + n
        if qty[key] > MAX_QUANTITY:
            return f"at most {MAX_QUANTITY} {key} in one order"
    return [Line(k, n, n * spec.menu[k]) for k, n in qty.items()]


def charge(world: World, a: AgentRecord, b: Building, op: Operation, lines: list[Line]) -> None:
    """Book the operation's cost and each menu line; the caller checked the agent can pay."""
    if op.cost:
        world.pay(f"agent:{a.id}", "town", op.cost, f"{op.name} at {b.name}")
    for ln in lines:
        world.pay(f"agent:{a.id}", "town", ln.total, f"{ln.quantity} x {ln.item} at {b.name}"[:255])


def view_prices(spec: EquipmentSpec) -> tuple[int, int]:
    """(price, income) an agent sees at a glance: the plain ones, or the cheapest cost and the
    best earning of the operations open to everyone."""
    if not spec.functions:
        return spec.price, spec.income
    public = [f for f in spec.functions if not f.owner_only] or list(spec.functions)
    return min(f.cost for f in public), max(f.earn for f in spec.functions)
