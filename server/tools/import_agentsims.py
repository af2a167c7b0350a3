"""Convert an AgentSims `config/` folder into this server's town files.

    python -m server.tools.import_agentsims path/to/AgentSims/config out/mytown

writes `town.json` (the map and the placed buildings), `templates.json`, `equipment.json` and
`agents.json` into the output folder, validates them as the server will, and prints what could
not be carried over (also written to `IMPORT_REPORT.txt` there). Run the result with
`python -m server --town out/mytown/town.json --agents out/mytown/agents.json`.
Exit status: 0 converted, 2 an input file is missing or invalid (the message names file and field).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.tools.agentsims_format import (
    ASAgentConfig,
    ASBuilding,
    ASEquipment,
    ASFramework,
    ASNpc,
    BuildingFile,
    EconomicsFile,
    EquipmentFile,
    NpcFile,
)
from server.tools.town_check import unreachable
from server.world.town import TownFileError, TownFiles, load_presets, read_json_model

PLANS = {"QAFramework": "qa", "JustPlan": "daily"}
MEMORIES = {"LongShortTermMemories": "long_term"}
GATE_WORDS = ("gate", "door", "entrance")


@dataclass
class Report:
    """What the import could not carry over, one line per field and the entries it affects."""

    lost: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)

    def drop(self, what: str, where: str) -> None:
        self.lost[what].append(where)

    def lines(self) -> list[str]:
        out = [f"not carried over: {what}: {', '.join(wh)}" for what, wh in self.lost.items()]
        return out + [f"note: {n}" for n in self.notes]


def _slug(text: str, sep: str = "_") -> str:
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)[:40] or "x"


def _unknown(report: Report, file: str, entries: list[Any], key: str = "id") -> None:
    for e in entries:
        for f in e.unknown():
            report.drop(f"{file}: field {f!r} (unknown to the importer)", f"{key} {getattr(e, key, '?')}")


def convert_equipment(
    eqs: list[ASEquipment], menus: dict[int, dict[str, Any]], capacity: int, report: Report
) -> dict[int, dict[str, Any]]:
    """Equipment specs by AgentSims type id. A type name used by several ids gets the id as a
    suffix in `name` and keeps the type as its `label`."""
    counts = Counter(e.type for e in eqs)
    out: dict[int, dict[str, Any]] = {}
    for e in eqs:
        name = _slug(e.type) if counts[e.type] == 1 else f"{_slug(e.type)}_{e.id}"
        spec: dict[str, Any] = {"name": name, "description": e.description, "capacity": capacity}
        if name != e.type:
            spec["label"] = e.type
        seen: set[str] = set()
        funcs = []
        for f in e.functions:
            fname = f.action[:64]
            if fname.lower() in seen:
                report.drop(
                    "equipments: a function repeating an earlier action's name", f"id {e.id} {fname!r}"
                )
                continue
            seen.add(fname.lower())
            funcs.append({"name": fname, "cost": f.cost, "earn": f.earn, "owner_only": f.onlyOwner})
            for u in f.unknown():
                report.drop(f"equipments: functions field {u!r}", f"id {e.id}")
        if funcs:
            spec["functions"] = funcs
        else:
            spec["operations"] = ["use"]
            report.notes.append(f"equipment id {e.id} ({e.type}) has no functions: it offers a free 'use'")
        if e.hireCapacity:
            spec["job"] = e.type[:64]
            spec["capacity"] = max(capacity, e.hireCapacity)
        if e.livingCapacity:
            spec["beds"] = e.livingCapacity
        if e.economic is not None:
            econ = menus.get(e.economic)
            if econ is None:
                report.drop("equipments: economic (no such entry in economics.json)", f"id {e.id}")
            else:
                menu = {k[:64]: v for k, v in econ["menu"].items() if v >= 1}
                for k, v in econ["menu"].items():
                    if v < 1:
                        report.drop("economics: menu items priced below 1", f"id {e.economic} {k!r}")
                if menu:
                    spec["menu"] = menu
                if econ["salary"]:
                    report.drop(
                        "economics: salary (wages come from functions' earn and mayor-mode jobs)",
                        f"id {e.economic} ({econ['salary']})",
                    )
        if e.assets:
            report.drop("equipments: assets (sprites are the client's)", f"id {e.id}")
        if (e.width, e.height) != (1, 1):
            report.drop(
                "equipments: width/height (an equipment is placed by its top-left cell)", f"id {e.id}"
            )
        out[e.id] = spec
    return out


def _kind(specs: list[dict[str, Any]]) -> str:
    if any(s.get("beds") for s in specs):
        return "home"
    if any(s.get("menu") for s in specs):
        return "shop"
    if any(s.get("job") for s in specs):
        return "work"
    return "leisure"


def _entrance(b: ASBuilding, gates: list[tuple[int, int]], report: Report) -> tuple[int, int]:
    """An open cell to enter by: a gate's cell if one is open, else an open edge cell (bottom row
    first, nearest the middle). A building with none gets its bottom-middle cell opened."""
    w, h = b.width, b.height
    for dx, dy in gates:
        if b.blocks[dy][dx] == 0:
            return dx, dy
    edge = [(x, h - 1) for x in range(w)] + [(0, y) for y in range(h)] + [(w - 1, y) for y in range(h)]
    edge += [(x, 0) for x in range(w)]
    for dx, dy in sorted(edge, key=lambda c: (c[1] != h - 1, c[0] in (0, w - 1), abs(c[0] - w // 2))):
        if b.blocks[dy][dx] == 0:
            return dx, dy
    report.notes.append(f"building type {b.id} ({b.type}) has no open edge cell: ({w // 2},{h - 1}) opened")
    return w // 2, h - 1


def convert_templates(
    buildings: list[ASBuilding],
    specs: dict[int, dict[str, Any]],
    eq_types: dict[int, ASEquipment],
    report: Report,
) -> dict[int, dict[str, Any]]:
    """Building templates by AgentSims type id, with the inner grid and equipment placements."""
    counts = Counter(_slug(b.type) for b in buildings)
    out: dict[int, dict[str, Any]] = {}
    for b in buildings:
        if len(b.blocks) != b.height or any(len(r) != b.width for r in b.blocks):
            raise TownFileError(
                f"buildings.json: building id {b.id}: blocks is not {b.height} rows of {b.width}"
            )
        equipment: list[str] = []
        places: list[dict[str, Any]] = []
        gates: list[tuple[int, int]] = []
        for dy, row in enumerate(b.equipments[: b.height]):
            for dx, tid in enumerate(row[: b.width]):
                if not tid:
                    continue
                if tid not in specs:
                    report.drop(
                        "buildings: equipments naming an unknown equipment id", f"building {b.id} id {tid}"
                    )
                    continue
                equipment.append(specs[tid]["name"])
                places.append({"equipment": specs[tid]["name"], "dx": dx, "dy": dy})
                if any(g in eq_types[tid].type.lower() for g in GATE_WORDS):
                    gates.append((dx, dy))
        ex, ey = _entrance(b, gates, report)
        rows = ["".join("#" if c else "." for c in r) for r in b.blocks]
        rows[ey] = rows[ey][:ex] + "." + rows[ey][ex + 1 :]
        name = _slug(b.type) if counts[_slug(b.type)] == 1 else f"{_slug(b.type)}_{b.id}"
        out[b.id] = {
            "name": name,
            "kind": _kind([specs[t] for t in set(_ids(b)) if t in specs]),
            "description": f"{b.type} (imported from AgentSims)",
            "footprint": {"w": b.width, "h": b.height},
            "entrance": {"dx": ex, "dy": ey},
            "price": b.price,
            "equipment": equipment,
            "inner": {"rows": rows, "places": places},
        }
        if b.assets:
            report.drop("buildings: assets (sprites are the client's)", f"id {b.id}")
    return out


def _ids(b: ASBuilding) -> list[int]:
    return [t for row in b.equipments for t in row if t]


def convert_map(
    fw: ASFramework,
    templates: dict[int, dict[str, Any]],
    types: dict[int, ASBuilding],
    margin: int,
    report: Report,
) -> tuple[dict[str, Any], dict[int, str]]:
    """The town map (tiles and placed buildings) and our building id by framework building id."""
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for xs, col in fw.map.items():
        for ys, cell in col.items():
            cells[(int(xs), int(ys))] = cell
            for k in cell:
                if k not in ("block", "building", "equipment"):
                    report.drop(f"framework: map cell key {k!r}", f"({xs},{ys})")
    placed: list[dict[str, Any]] = []
    ids: dict[int, str] = {}
    covered: set[tuple[int, int]] = set()
    for pb in fw.buildings:
        tpl, bt = templates.get(pb.t), types.get(pb.t)
        if tpl is None or bt is None:
            report.drop("framework: buildings of an unknown type (skipped)", f"id {pb.id} type {pb.t}")
            continue
        if pb.r:
            report.drop("framework: rotated buildings (r != 0; skipped)", f"id {pb.id}")
            continue
        if (pb.rx - pb.lx + 1, pb.by - pb.ty + 1) != (bt.width, bt.height):
            report.drop(
                "framework: buildings whose corners do not match their type's size (skipped)", f"id {pb.id}"
            )
            continue
        bid = f"{_slug(pb.n or bt.type, '-')[:32]}-{pb.id}"
        ids[pb.id] = bid
        placed.append(
            {"id": bid, "template": tpl["name"], "name": (pb.n or bt.type)[:64], "x": pb.lx, "y": pb.ty}
        )
        differ = 0
        for dy in range(bt.height):
            for dx in range(bt.width):
                covered.add((pb.lx + dx, pb.ty + dy))
                if bool(cells.get((pb.lx + dx, pb.ty + dy), {}).get("block")) != (
                    tpl["inner"]["rows"][dy][dx] == "#"
                ):
                    differ += 1
        if differ:
            report.drop(
                "framework: map block flags inside a building that differ from its type's blocks (type's used)",
                f"building {pb.id}: {differ} cells",
            )
    right = [c[0] for c in cells] + [pb.rx for pb in fw.buildings] or [0]
    bottom = [c[1] for c in cells] + [pb.by for pb in fw.buildings] or [0]
    width, height = max(right) + 1 + margin, max(bottom) + 1 + margin
    rows = [["."] * width for _ in range(height)]
    for (x, y), cell in cells.items():
        if cell.get("block") and (x, y) not in covered:
            rows[y][x] = "#"
    town = {"name": "imported", "tiles": ["".join(r) for r in rows], "buildings": placed}
    return town, ids


def check_equipment(fw: ASFramework, types: dict[int, ASBuilding], report: Report) -> None:
    """Placed equipment comes from each building type's grid; report buildings whose placed
    equipment in framework.json differs from that grid."""
    by_building: dict[int, Counter[int]] = defaultdict(Counter)
    for pe in fw.equipments:
        if pe.b is not None:
            by_building[pe.b][pe.t] += 1
    for pb in fw.buildings:
        bt = types.get(pb.t)
        if bt is not None and by_building.get(pb.id, Counter()) != Counter(_ids(bt)):
            report.drop(
                "framework: equipments differing from the building type's grid (type's grid used)",
                f"building {pb.id}",
            )


def convert_agents(
    npcs: list[ASNpc], ac: ASAgentConfig, ids: dict[int, str], report: Report
) -> list[dict[str, Any]]:
    """Agent presets from `npcs.json` (AgentSims' NPC-creation fields)."""
    out = []
    for i, n in enumerate(npcs):
        p: dict[str, Any] = {"name": n.nickname, "bio": n.bio, "goal": n.goal, "cash": n.cash}
        if n.asset:
            p["sprite"] = n.asset
            if ac.assets and n.asset not in ac.assets:
                report.notes.append(f"npcs.{i}: asset {n.asset!r} is not among agent.json's assets")
        for value, table, key, what in (
            (n.planSystem, PLANS, "plan", "planSystem"),
            (n.memorySystem, MEMORIES, "memory", "memorySystem"),
        ):
            if value is not None:
                if value in table:
                    p[key] = table[value]
                else:
                    report.drop(
                        f"npcs: {what} with no counterpart here (the default is used)", f"{i} {value!r}"
                    )
        if n.model:
            report.drop("npcs: model (the LLM profile is the server's config)", f"{i} {n.model!r}")
        if n.homeBuilding is not None:
            if n.homeBuilding in ids:
                p["home"] = ids[n.homeBuilding]
            else:
                report.drop("npcs: homeBuilding naming no placed building", f"{i} {n.homeBuilding}")
        if n.workBuilding is not None:
            report.drop("npcs: workBuilding (hire the agent in mayor mode)", f"{i} {n.workBuilding}")
        for u in n.unknown():
            report.drop(f"npcs: field {u!r}", str(i))
        out.append(p)
    return out


def _load(path: Path, model: Any) -> Any:
    return read_json_model(path, model)


def import_town(
    src: Path, out: Path, *, margin: int = 1, capacity: int = 2, name: str | None = None
) -> Report:
    """Convert the AgentSims config folder `src` into town files in `out`; the report of what
    was not carried over. Raises TownFileError on a missing or invalid file."""
    report = Report()
    eqs = _load(src / "equipments.json", EquipmentFile).root
    bts = _load(src / "buildings.json", BuildingFile).root
    econ_path = src / "economics.json"
    econ = _load(econ_path, EconomicsFile).root if econ_path.exists() else []
    fw = _load(src / "framework.json", ASFramework)
    ac_path, npc_path = src / "agent.json", src / "npcs.json"
    ac = _load(ac_path, ASAgentConfig) if ac_path.exists() else ASAgentConfig()
    npcs = _load(npc_path, NpcFile).root if npc_path.exists() else []
    for file, entries in (("equipments.json", eqs), ("buildings.json", bts), ("economics.json", econ)):
        _unknown(report, file, entries)
    for f in fw.unknown():
        report.drop(f"framework.json: field {f!r}", "top level")
    for f in ac.unknown():
        report.drop(f"agent.json: field {f!r}", "top level")
    if ac.models:
        report.drop("agent.json: models (LLM profiles are the server's config)", ", ".join(ac.models))
    menus = {e.id: {"menu": e.menu, "salary": e.salary} for e in econ}
    eq_types = {e.id: e for e in eqs}
    specs = convert_equipment(eqs, menus, capacity, report)
    types = {b.id: b for b in bts}
    templates = convert_templates(bts, specs, eq_types, report)
    town, ids = convert_map(fw, templates, types, margin, report)
    check_equipment(fw, types, report)
    town["name"] = name or out.name
    agents = convert_agents(npcs, ac, ids, report)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "town.json": town,
        "templates.json": {"templates": list(templates.values())},
        "equipment.json": {"equipment": list(specs.values())},
        "agents.json": {"agents": agents},
    }
    for fname, data in files.items():
        (out / fname).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    tf = TownFiles(out / "town.json")
    load_presets(out / "agents.json")
    for line in unreachable(tf):
        report.notes.append(line)
    (out / "IMPORT_REPORT.txt").write_text("\n".join(report.lines()) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Convert an AgentSims config/ folder into town files.")
    p.add_argument("config", type=Path, help="AgentSims config folder (buildings.json, equipments.json, ...)")
    p.add_argument(
        "out", type=Path, help="output folder for town.json, templates.json, equipment.json, agents.json"
    )
    p.add_argument("--margin", type=int, default=1, help="walkable tiles added right of and below the map")
    p.add_argument("--capacity", type=int, default=2, help="users at once per equipment (AgentSims has none)")
    p.add_argument("--name", default=None, help="the town's name (default: the output folder's name)")
    args = p.parse_args(argv)
    try:
        report = import_town(
            args.config, args.out, margin=args.margin, capacity=args.capacity, name=args.name
        )
    except TownFileError as e:
        print(f"import_agentsims: {e}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    print(
        f"wrote {args.out}/town.json, templates.json, equipment.json, agents.json (report: IMPORT_REPORT.txt)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
