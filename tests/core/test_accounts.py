"""Accounts and the audit log, on both backends: hashing, sign-in checks, policy, append-only audit, CLI.

Embedded instances keep the agency tables in ``<data_dir>/agency.sqlite``; PostGIS instances in the
instance's database (Alembic revision 0002), on a server whose time zone is not UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gisportal.cli.commands import main
from gisportal.core.accounts import Accounts
from gisportal.core.audit import AuditFilter, AuditLog
from gisportal.core.errors import Conflict, InvalidInput, NotFound
from gisportal.core.settings import load_settings
from gisportal.storage import open_agency

PASSWORD = "correct horse battery"


@pytest.fixture
def agency(empty_instance):
    """The agency tables of an empty instance (PostGIS: migrated by ``open_agency`` itself)."""
    db = open_agency(load_settings(empty_instance.settings))
    yield db
    db.close()


@pytest.fixture
def accounts(agency) -> Accounts:
    return Accounts(agency)


def raw_rows(db, table: str) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]


def test_tables_live_where_the_backend_keeps_its_data(agency, empty_instance):
    assert agency.counts() == {"users": 0, "audit_log": 0, "drafts": 0}
    if empty_instance.backend == "embedded":
        assert agency.dialect == "sqlite"
        assert (empty_instance.data_dir / "agency.sqlite").exists()
        with agency.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    else:
        assert agency.dialect == "postgresql"
        # the single latest revision (0002 added these tables; later revisions merge into one head)
        assert empty_instance.sql("SELECT version_num FROM gp_alembic_version") == [(_alembic_head(),)]


def test_passwords_are_stored_as_scrypt_hashes_only(accounts, agency):
    user = accounts.create("Amina", PASSWORD, "admin", "Amina El Idrissi", actor="test")
    assert (user.username, user.role, user.active, user.display_name) == ("amina", "admin", True, "Amina El Idrissi")
    [row] = raw_rows(agency, "gp_users")
    assert not any(PASSWORD in str(value) for value in row)
    with agency.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM gp_users")).scalar_one()
    assert stored.startswith("scrypt:")
    # the same password twice gives two different hashes (salted)
    accounts.create("youssef", PASSWORD, "planner")
    with agency.engine.connect() as conn:
        hashes = conn.execute(sa.text("SELECT password_hash FROM gp_users")).scalars().all()
    assert len(set(hashes)) == 2
    # and the audit log holds no password either
    assert not any(PASSWORD in str(value) for row in raw_rows(agency, "gp_audit_log") for value in row)


def test_authenticate_right_wrong_and_unknown(accounts):
    accounts.create("amina", PASSWORD, "planner")
    before = datetime.now(UTC).replace(microsecond=0)
    user, reason = accounts.check_login(" AMINA ", PASSWORD)  # names are case-insensitive
    assert reason == "ok" and user.username == "amina"
    assert before <= user.last_login_at <= datetime.now(UTC) and user.last_login_at.tzinfo is not None
    assert accounts.check_login("amina", PASSWORD + "x") == (None, "wrong_password")
    assert accounts.check_login("amina", PASSWORD.upper()) == (None, "wrong_password")
    assert accounts.check_login("amina", "") == (None, "wrong_password")
    assert accounts.find("amina").failed_logins == 3
    assert accounts.check_login("nobody", PASSWORD) == (None, "unknown_user")
    assert accounts.check_login("nul\x00l", PASSWORD) == (None, "unknown_user")
    assert accounts.authenticate("amina", PASSWORD).failed_logins == 0  # reset by a success


def test_disabled_user_is_refused_until_enabled(accounts):
    accounts.create("admin", PASSWORD, "admin")
    accounts.create("youssef", PASSWORD, "planner")
    stamp = accounts.find("youssef").session_stamp
    assert not accounts.set_active("youssef", False, actor="admin").active
    assert accounts.check_login("youssef", PASSWORD) == (None, "disabled")
    assert accounts.check_login("youssef", "wrong password!") == (None, "wrong_password")  # says nothing more
    assert accounts.set_active("youssef", True, actor="admin").active
    assert accounts.authenticate("youssef", PASSWORD).session_stamp != stamp  # sessions from before stay ended
    with pytest.raises(NotFound):
        accounts.set_active("ghost", False)


def test_password_policy_and_names(accounts):
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.create("amina", "nine char", "planner")
    assert accounts.create("amina", "ten chars!", "planner").username == "amina"  # exactly 10
    with pytest.raises(InvalidInput, match="user name"):
        accounts.create("samir-user", "Samir-User", "planner")
    with pytest.raises(InvalidInput, match="Unknown role"):
        accounts.create("samir", PASSWORD, "root")
    for bad in ("", "a", "has space", "é", "-dash", "x" * 65):
        with pytest.raises(InvalidInput, match="user name has 2 to 64"):
            accounts.create(bad, PASSWORD, "planner")
    with pytest.raises(Conflict) as taken:
        accounts.create("AMINA", PASSWORD, "planner")
    assert taken.value.status == 409
    assert [u.username for u in accounts.list()] == ["amina"]


def test_roles_are_ordered(accounts):
    planner = accounts.create("youssef", PASSWORD, "planner")
    admin = accounts.create("amina", PASSWORD, "admin")
    assert planner.has_role("planner") and not planner.has_role("admin")
    assert admin.has_role("planner") and admin.has_role("admin")


def test_change_password_ends_other_sessions(accounts):
    user = accounts.create("youssef", PASSWORD, "planner")
    with pytest.raises(InvalidInput, match="current password"):
        accounts.change_password("youssef", "not the password", "another good one")
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.change_password("youssef", PASSWORD, "short")
    changed = accounts.change_password("youssef", PASSWORD, "another good one")
    assert changed.session_stamp != user.session_stamp
    assert accounts.authenticate("youssef", PASSWORD) is None
    assert accounts.authenticate("youssef", "another good one").username == "youssef"


def test_last_active_admin_cannot_be_disabled(accounts):
    accounts.create("amina", PASSWORD, "admin")
    with pytest.raises(Conflict, match="last active administrator"):
        accounts.set_active("amina", False)
    accounts.create("karim", PASSWORD, "admin")
    assert not accounts.set_active("amina", False).active
    with pytest.raises(Conflict):
        accounts.set_active("karim", False)


def test_every_change_is_audited_and_searchable(accounts, agency):
    audit = AuditLog(agency)
    accounts.create("amina", PASSWORD, "admin", actor="cli:root", ip="10.0.0.1")
    accounts.create("youssef", PASSWORD, "planner", actor="amina", ip="10.0.0.2")
    accounts.set_active("youssef", False, actor="amina")
    accounts.set_active("youssef", True, actor="amina")
    accounts.set_password("youssef", "a new password", actor="amina")
    entry = audit.record("youssef", "login.failure", "youssef",
                         {"reason": "wrong_password", "password": PASSWORD, "form": {"csrf_token": "abc", "n": 1}},
                         "10.0.0.3")
    assert entry.details == {"reason": "wrong_password", "password": "***", "form": {"csrf_token": "***", "n": 1}}

    entries = audit.search()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("youssef", "login.failure", "youssef"), ("amina", "user.password", "youssef"),
        ("amina", "user.enable", "youssef"), ("amina", "user.disable", "youssef"),
        ("amina", "user.create", "youssef"), ("cli:root", "user.create", "amina")]
    assert entries[-1].details == {"role": "admin", "display_name": ""} and entries[-1].ip == "10.0.0.1"
    now = datetime.now(UTC)
    assert all(e.at.tzinfo is not None and now - timedelta(minutes=1) < e.at <= now for e in entries)
    assert not any(PASSWORD in str(value) for row in raw_rows(agency, "gp_audit_log") for value in row)

    assert audit.count(AuditFilter(actor="amina")) == 4
    assert [e.action for e in audit.search(AuditFilter(action="user.create"))] == ["user.create"] * 2
    assert audit.count(AuditFilter(action="user.")) == 5  # a prefix ending with "."
    assert audit.count(AuditFilter(action="user")) == 0
    today = date.today()
    assert audit.count(AuditFilter(since=today - timedelta(days=1), until=today + timedelta(days=1))) == 6
    assert audit.count(AuditFilter(until=today - timedelta(days=2))) == 0
    assert audit.count(AuditFilter(since=today + timedelta(days=2))) == 0
    assert [e.action for e in audit.search(limit=2, offset=1)] == ["user.password", "user.enable"]
    assert audit.actions() == ["login.failure", "user.create", "user.disable", "user.enable", "user.password"]


def test_audit_log_cannot_be_updated_nor_deleted(agency, empty_instance):
    audit = AuditLog(agency)
    audit.record("amina", "login.success", "amina", None, "127.0.0.1")
    before = raw_rows(agency, "gp_audit_log")
    statements = ["UPDATE gp_audit_log SET actor = 'someone else'", "DELETE FROM gp_audit_log",
                  "UPDATE gp_audit_log SET details = '{}' WHERE id = 1"]
    if empty_instance.backend == "postgis":
        statements.append("TRUNCATE gp_audit_log")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with agency.engine.begin() as conn:
                conn.execute(sa.text(statement))
    assert raw_rows(agency, "gp_audit_log") == before
    audit.record("amina", "logout", "amina")  # appending still works
    assert len(raw_rows(agency, "gp_audit_log")) == 2


def test_drafts_table_is_ready_for_uploads(agency):
    from gisportal.core.agencydb import drafts

    with agency.engine.begin() as conn:
        conn.execute(sa.insert(drafts).values(plan_name="tiny-plan", kind="zones", uploaded_by="amina",
                                              created_at=datetime.now(UTC), file_path="uploads/1.zip",
                                              mapping='{"zone_field": "CODE"}'))
        row = conn.execute(sa.select(drafts)).one()
        assert (row.status, row.published_version_id, row.report) == ("draft", None, "{}")
        conn.execute(sa.update(drafts).values(status="published", published_version_id=3))  # drafts do change
    with pytest.raises(sa.exc.IntegrityError):
        with agency.engine.begin() as conn:
            conn.execute(sa.update(drafts).values(status="approved"))
    with agency.engine.connect() as conn:
        assert conn.execute(sa.select(drafts.c.status, drafts.c.published_version_id)).one() == ("published", 3)


# --- command line ------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(empty_instance, monkeypatch):
    for name, value in empty_instance.env.items():
        monkeypatch.setenv(name, value)
    return empty_instance


def run(*args, input=None, code=0):
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_cli_user_add_list_disable_enable(cli_env):
    run("user", "add", "Amina", "--role", "admin", "--name", "Amina El Idrissi", input=PASSWORD + "\n")
    run("user", "add", "youssef", "--role", "planner", input="another password\n")
    settings = load_settings(cli_env.settings)
    db = open_agency(settings)
    try:
        accounts = Accounts(db)
        assert accounts.authenticate("amina", PASSWORD).display_name == "Amina El Idrissi"
        assert accounts.authenticate("youssef", "another password").role == "planner"
        listed = run("user", "list").output.splitlines()
        assert [line.split("\t")[:3] for line in listed] == [["amina", "admin", "active"],
                                                             ["youssef", "planner", "active"]]
        assert "disabled" in run("user", "disable", "youssef").output
        assert accounts.check_login("youssef", "another password") == (None, "disabled")
        assert run("user", "list").output.splitlines()[1].split("\t")[2] == "disabled"
        run("user", "enable", "YOUSSEF")
        assert accounts.authenticate("youssef", "another password") is not None
        run("user", "password", "youssef", input="third password\n")
        assert accounts.authenticate("youssef", "third password") is not None
        actions = [(e.actor.startswith("cli"), e.action, e.target) for e in AuditLog(db).search()]
        assert actions == [(True, "user.password", "youssef"), (True, "user.enable", "youssef"),
                           (True, "user.disable", "youssef"), (True, "user.create", "youssef"),
                           (True, "user.create", "amina")]
    finally:
        db.close()


def test_cli_refuses_bad_passwords_and_names_clearly(cli_env):
    assert "at least 10 characters" in run("user", "add", "amina", "--role", "admin", input="short\n", code=2).output
    assert "no password on stdin" in run("user", "add", "amina", "--role", "admin", input="", code=1).output
    assert run("user", "add", "amina", "--role", "root", input=PASSWORD + "\n", code=2).exit_code == 2
    # the password is never an argument
    assert run("user", "add", "amina", "--role", "admin", "--password", PASSWORD, code=2).exit_code == 2
    run("user", "add", "amina", "--role", "admin", input=PASSWORD + "\n")
    assert "already taken" in run("user", "add", "amina", "--role", "planner", input=PASSWORD + "\n", code=2).output
    assert "No user 'ghost'" in run("user", "disable", "ghost", code=2).output
    assert "last active administrator" in run("user", "disable", "amina", code=2).output
    assert run("user", "list").output.splitlines()[0].split("\t")[:3] == ["amina", "admin", "active"]


def _alembic_head() -> str:
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import gisportal

    config = Config()
    config.set_main_option("script_location", str(Path(gisportal.__file__).parent / "migrations"))
    [head] = ScriptDirectory.from_config(config).get_heads()
    return head
