"""The fleet database's schema: one list of named, ordered migrations that both backends run.

Each step is SQL that SQLite and PostgreSQL both read, with ``{blob}`` standing for the one type they
spell differently; a statement one backend must not run is given per dialect (a ``Dialects`` pair,
either side empty). A database records the steps it had in its ``migrations`` table (number, name,
when), so its version is the highest number there; a database that a newer scanner migrated is
refused. A released step is never edited, reordered or renamed: the first two were written with
``sqlite-utils`` calls, and the SQL here creates the same tables, keys and indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Dialect(str, Enum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


_TYPES: dict[Dialect, dict[str, str]] = {
    Dialect.SQLITE: {"blob": "blob"},
    Dialect.POSTGRESQL: {"blob": "bytea"},
}


@dataclass(frozen=True)
class Dialects:
    """A statement written for each backend; an empty one is not run there."""

    sqlite: str
    postgresql: str


@dataclass(frozen=True)
class Step:
    name: str
    statements: tuple[str | Dialects, ...]

    def sql(self, dialect: Dialect) -> list[str]:
        """The statements as ``dialect`` runs them, in order."""
        chosen = [s if isinstance(s, str) else getattr(s, dialect.value) for s in self.statements]
        return [s.format(**_TYPES[dialect]) for s in chosen if s]


_REPORT_COLUMNS = (
    "id, host, received, started, finished, compliant, complete, violations, warnings, infos, tags, document"
)
_FINDING_COLUMNS = "position, fingerprint, rule_id, severity, provider, kind, subject, path, waived, waiver_expires"

FLEET_SCHEMA: tuple[Step, ...] = (
    Step(
        "0001-hosts-reports-findings",
        (
            "create table hosts (host text primary key, token_hash text, token_created text, revoked text, "
            "lost_reports integer default 0, last_report text, last_finished text)",
            "create table reports (id text primary key, host text not null references hosts(host), received text, "
            "started text, finished text not null, compliant integer, complete integer, violations integer, "
            "warnings integer, infos integer, tags text, document {blob} not null)",
            "create index idx_reports_host_finished on reports (host, finished)",
            "create index idx_reports_finished on reports (finished)",
            "create unique index idx_hosts_token_hash on hosts (token_hash)",
            "create table report_findings (report_id text references reports(id), position integer, "
            "fingerprint text, rule_id text, severity text, provider text, kind text, subject text, path text, "
            "waived integer, waiver_expires text, primary key (report_id, position))",
        ),
    ),
    # Report ids are the agents' own: key reports and findings by (host, id), so one host's id cannot
    # shadow another's report; a host's latest report is the last to arrive, so the finish time kept for
    # ordering goes. (SQLite cannot change a primary key in place: the tables are copied.)
    Step(
        "0002-reports-keyed-by-host-ordered-by-arrival",
        (
            "create table reports_by_host (id text not null, host text not null references hosts(host), "
            "received text, started text, finished text not null, compliant integer, complete integer, "
            "violations integer, warnings integer, infos integer, tags text, document {blob} not null, "
            "primary key (host, id))",
            Dialects(
                f"insert into reports_by_host ({_REPORT_COLUMNS}) select {_REPORT_COLUMNS} from reports order by rowid",
                f"insert into reports_by_host ({_REPORT_COLUMNS}) select {_REPORT_COLUMNS} from reports",
            ),
            "create table findings_copy as select r.host as host, f.report_id as report_id, "
            f"{', '.join('f.' + c for c in _FINDING_COLUMNS.split(', '))} "
            "from report_findings f join reports r on r.id = f.report_id",
            "drop table report_findings",
            "drop table reports",
            "alter table reports_by_host rename to reports",
            "create table report_findings (host text not null, report_id text not null, position integer, "
            "fingerprint text, rule_id text, severity text, provider text, kind text, subject text, path text, "
            "waived integer, waiver_expires text, primary key (host, report_id, position), "
            "foreign key (host, report_id) references reports(host, id))",
            f"insert into report_findings select host, report_id, {_FINDING_COLUMNS} from findings_copy",
            "drop table findings_copy",
            "create index reports_host_received on reports (host, received)",
            "create index reports_finished on reports (finished)",
            "alter table hosts drop column last_finished",
        ),
    ),
    # PostgreSQL has no rowid to tell apart reports that arrived in the same second: an identity column
    # does. The limits several collectors share live in the database there (``postgres_storage``); on
    # SQLite, whose one writer at a time makes it a one-collector database, they stay in the process.
    Step(
        "0003-arrival-order-and-shared-host-limits",
        (
            Dialects("", "alter table reports add column arrival bigint generated always as identity"),
            Dialects("", "create index reports_host_arrival on reports (host, received, arrival)"),
            Dialects(
                "",
                "create table host_limits (host text primary key, level double precision not null, "
                "refilled double precision not null, wait double precision not null, busy_until double precision)",
            ),
        ),
    ),
    # Reports stored by content (``parts``): a section a host sends again is stored once and linked.
    # The findings of reports stored before keep their rows, under a pseudo-part named after the report.
    Step(
        "0004-reports-stored-by-content",
        (
            "create table report_parts (host text not null, digest text not null, body {blob} not null, "
            "primary key (host, digest))",
            "create table report_links (host text not null, report_id text not null, section text not null, "
            "digest text not null, primary key (host, report_id, section), "
            "foreign key (host, report_id) references reports(host, id))",
            "create index report_links_part on report_links (host, digest)",
            "create table part_findings (host text not null, part text not null, position integer, "
            "fingerprint text, rule_id text, severity text, provider text, kind text, subject text, path text, "
            "waived integer, waiver_expires text, primary key (host, part, position))",
            f"insert into part_findings select host, 'report:' || report_id, {_FINDING_COLUMNS} from report_findings",
            "insert into report_links select host, id, 'findings', 'report:' || id from reports",
            "drop table report_findings",
        ),
    ),
    # The dashboard's people, apart from the agents' host tokens: accounts with a role and a scrypt hash,
    # browser sessions and read-only API tokens (both stored as SHA-256 of the secret), and the failed
    # sign-ins per user name and per client address, kept here so that every collector counts them.
    Step(
        "0005-dashboard-users-sessions",
        (
            "create table users (name text primary key, role text not null, password_hash text not null, "
            "created text not null)",
            "create table user_sessions (id_hash text primary key, name text not null references users(name) "
            "on delete cascade, created text not null, expires text not null)",
            "create index user_sessions_name on user_sessions (name)",
            "create table api_tokens (token_hash text primary key, name text not null unique references users(name) "
            "on delete cascade, created text not null)",
            "create table sign_in_failures (key text primary key, failures integer not null, "
            "since double precision not null)",
        ),
    ),
    # What is stored gzip-compressed is not worth PostgreSQL compressing again: its attempt on each part
    # over 2 KiB was two thirds of the part's insert (0.17 ms against 0.06 ms, measured with
    # pg_stat_statements under the load test). Rows stored before keep their form.
    Step(
        "0006-compressed-columns-stored-as-they-are",
        (
            Dialects("", "alter table report_parts alter column body set storage external"),
            Dialects("", "alter table reports alter column document set storage external"),
        ),
    ),
)
