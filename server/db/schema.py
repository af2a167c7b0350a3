"""The database schema, written once for SQLite and MySQL (SQLAlchemy Core).

The append-only logs (ledger, memories, events, llm_calls) take thousands of rows a tick, and
every secondary index costs each insert; they carry only the indexes the server queries by
(ledger by account, memories by agent, events by agent for chat history). Reports aggregate
llm_calls in one scan, which no index would shorten."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

# Every table is utf8mb4 with a binary collation on MySQL, whatever the server's default charset
# (latin1 upstream): any text the protocol takes can be stored, and the database compares keys
# byte for byte, as the server does (names are compared by their normalised key, `name_key`).
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}

ID = sa.String(64)
JSON_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", JSON_TEXT, nullable=False),
    **MYSQL_TABLE,
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    # the name's comparison key (`server.world.names.name_key`): unique, compared byte for byte
    sa.Column("name_key", sa.String(64), nullable=False, unique=True),
    sa.Column("x", sa.Integer, nullable=False),
    sa.Column("y", sa.Integer, nullable=False),
    sa.Column("cash", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("data", JSON_TEXT, nullable=False),  # the rest of the agent record, JSON
    **MYSQL_TABLE,
)

buildings = sa.Table(
    "buildings",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("x", sa.Integer, nullable=False),
    sa.Column("y", sa.Integer, nullable=False),
    sa.Column("owner", ID, nullable=True),
    sa.Column("created_tick", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # placement order, kept across restarts
    **MYSQL_TABLE,
)

equipment = sa.Table(
    "equipment",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("building_id", ID, nullable=False, index=True),
    sa.Column("spec", sa.String(64), nullable=False),
    sa.Column("users", JSON_TEXT, nullable=False),  # JSON list of agent ids using it now
    **MYSQL_TABLE,
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tick", sa.Integer, nullable=False),
    sa.Column("src", sa.String(80), nullable=False, index=True),
    sa.Column("dst", sa.String(80), nullable=False, index=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    **MYSQL_TABLE,
)

memories = sa.Table(
    "memories",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("agent_id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tick", sa.Integer, nullable=False),
    sa.Column("importance", sa.Float, nullable=False),
    sa.Column("subject", sa.String(128), nullable=True),
    sa.Column("embedding", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql"), nullable=True),
    **MYSQL_TABLE,
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tick", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("agent_id", ID, nullable=True, index=True),
    sa.Column("other_id", ID, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("conversation_id", ID, nullable=True),  # the conversation a chat line belongs to (5)
    **MYSQL_TABLE,
)

# A conversation between two agents, or an agent and a player (5): who started it, who takes
# part, its transcript and how it ended; an open one (ended_tick null) comes back on a restart.
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("started_tick", sa.Integer, nullable=False),
    sa.Column("ended_tick", sa.Integer, nullable=True),
    sa.Column("data", JSON_TEXT, nullable=False),  # initiator, participants, turns, end reason
    **MYSQL_TABLE,
)

ticks = sa.Table(
    "ticks",
    metadata,
    sa.Column("tick", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("game_seconds", sa.BigInteger, nullable=False),
    sa.Column("summary", JSON_TEXT, nullable=False),
    **MYSQL_TABLE,
)

# one row per tick: the agents' changes that tick, zlib-compressed JSON (server/runs/replay.py);
# a new table, so `create_all` adds it to older databases without a migration
frames = sa.Table(
    "frames",
    metadata,
    sa.Column("tick", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql"), nullable=False),
    **MYSQL_TABLE,
)

# probe answers and scores (server/runs/probes.py): measurements of a run, not its state
probe_scores = sa.Table(
    "probe_scores",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tick", sa.Integer, nullable=False, index=True),
    sa.Column("probe", sa.String(64), nullable=False),
    sa.Column("agent_id", ID, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("value", sa.String(255), nullable=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    **MYSQL_TABLE,
)

llm_calls = sa.Table(
    "llm_calls",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tick", sa.Integer, nullable=False),
    sa.Column("agent_id", ID, nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("cost_usd", sa.Double, nullable=False, server_default="0"),
    # prompt tokens in the prefix this call shares with the agent's previous call (5): what a
    # provider's prefix cache can serve
    sa.Column("prefix_tokens", sa.Integer, nullable=False, server_default="0"),
    **MYSQL_TABLE,
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("data", JSON_TEXT, nullable=False),
    **MYSQL_TABLE,
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("agent_id", ID, primary_key=True),
    sa.Column("building_id", ID, nullable=False, index=True),
    sa.Column("title", sa.String(64), nullable=False),
    sa.Column("wage", sa.Integer, nullable=False),
    sa.Column("since_tick", sa.Integer, nullable=False),
    **MYSQL_TABLE,
)

# Every agent id ever given out, so that none is given twice (a deleted agent's history, ledger
# account and escrowed rewards stay its own). `removed_tick` is set when the agent is deleted.
agent_ids = sa.Table(
    "agent_ids",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("created_tick", sa.Integer, nullable=False),
    sa.Column("removed_tick", sa.Integer, nullable=True),
    **MYSQL_TABLE,
)

# Claimed player names: the name's key, the name as first claimed, and the secret's Argon2id hash.
# Kept across a town reset (a player is a person, not part of the town).
players = sa.Table(
    "players",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("created_tick", sa.Integer, nullable=False),
    **MYSQL_TABLE,
)

# 2: llm_calls.cost_usd; 3: no index on ledger.tick, events.tick, llm_calls.tick/agent_id;
# 4: agents.data keeps a path as step letters (`agent.state.encode_path`); rows with a list of
# tiles still load, and servers before 4 refuse the database instead of misreading the letters;
# 5: the conversations table, events.conversation_id, llm_calls.prefix_tokens.
# 6 (identity, issue 13): every MySQL table utf8mb4 with a binary collation; agents.name_key
# (unique); the agent_ids and players tables (`repository._migrate_identity`).
SCHEMA_VERSION = 6

# Indexes of earlier versions that version 3 drops: (table, column) of single-column indexes.
DROPPED_INDEXES = (("ledger", "tick"), ("events", "tick"), ("llm_calls", "tick"), ("llm_calls", "agent_id"))
