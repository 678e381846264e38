"""`python -m cli stages new` (`make stage TENANT=...`) and the signing-key rotation commands
(`python -m cli keys ...`, against moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.auth.jwt_codec import decode_jwt, encode_jwt
from chalicelib.core.keyring import generate_keyring_json, parse_keyring
from cli.main import main as cli_main
from infra import signing_keys, stages
from infra.template import build_template


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.json"
    path.write_text(stages.CONFIG_PATH.read_text())
    original = stages.read_config
    monkeypatch.setattr(stages, "read_config", lambda *_: original(path))
    monkeypatch.setattr(stages, "CONFIG_PATH", path)
    return path


def test_new_tenant_stage_gets_its_own_names_and_production_settings(config_copy: Path) -> None:
    stage = stages.add_tenant("acme", config_copy, suffix="a1b2c3")
    env = stage["environment_variables"]
    assert env["DESKGUARD_STAGE"] == "acme"
    assert env["UPLOADS_BUCKET"] == "deskguard-acme-uploads-a1b2c3"
    assert stage["log_retention_in_days"] == 365
    settings = stages.stage_settings("acme")
    assert settings.table_name("identity") == "deskguard-acme-identity"
    assert settings.hsts_enabled and settings.rate_limit_enabled
    template = build_template("acme")
    assert template["Resources"]["IdentityTable"]["Properties"]["DeletionProtectionEnabled"]
    names = {
        r["Properties"].get("BucketName")
        for r in template["Resources"].values()
        if r.get("Type") == "AWS::S3::Bucket"
    }
    assert names == {
        f"deskguard-acme-{kind}-a1b2c3"
        for kind in ("uploads", "quarantine", "av-definitions", "audit-archive", "inbound-mail")
    }
    assert json.loads(config_copy.read_text())["stages"]["acme"] == stage


def test_deploy_commands_refuse_a_tenant_stage_without_its_public_settings(
    config_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new tenant stage mails links and reply addresses: the deploy commands stop (exit 1,
    one sentence) until PUBLIC_APP_URL (https), MAIL_DOMAIN and MAIL_FROM are set."""
    from infra import chalice_stage, data_stack, package

    stages.add_tenant("acme", config_copy, suffix="a1b2c3")
    for command in (data_stack.main, chalice_stage.main, package.main):
        assert command(["--stage", "acme"]) == 1
        err = capsys.readouterr().err
        assert "Stage acme: set MAIL_DOMAIN, MAIL_FROM, PUBLIC_APP_URL" in err
    config = json.loads(config_copy.read_text())
    config["stages"]["acme"]["environment_variables"].update(
        {
            "PUBLIC_APP_URL": "http://help.acme.example",
            "MAIL_DOMAIN": "mail.acme.example",
            "MAIL_FROM": "Acme Support <support@acme.example>",
        }
    )
    config_copy.write_text(json.dumps(config))
    assert "PUBLIC_APP_URL must be https" in str(stages.public_settings_problem("acme"))
    config["stages"]["acme"]["environment_variables"]["PUBLIC_APP_URL"] = (
        "https://help.acme.example"
    )
    config_copy.write_text(json.dumps(config))
    assert stages.public_settings_problem("acme") is None
    assert stages.public_settings_problem("dev") is None  # no real data: defaults are fine


@pytest.mark.parametrize("name", ["prod", "local", "Acme", "a", "acme-corp", "x" * 21])
def test_tenant_names_are_validated(config_copy: Path, name: str) -> None:
    with pytest.raises(ValueError):
        stages.add_tenant(name, config_copy)


def _secret(stage: str) -> dict[str, Any]:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    data: dict[str, Any] = json.loads(
        client.get_secret_value(SecretId=signing_keys.secret_id(stage))["SecretString"]
    )
    return data


def test_key_rotation_keeps_old_tokens_valid_until_retired() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    # What the stack creates: a placeholder that is not a keyring.
    client.create_secret(
        Name=signing_keys.secret_id("dev"),
        SecretString='{"uninitialized": true, "placeholder": "x"}',
    )
    first = signing_keys.init("dev")
    hmac_key = _secret("dev")["hmac"]
    assert signing_keys.init("dev") == first  # idempotent: never replaces live keys
    assert _secret("dev")["hmac"] == hmac_key
    old_ring = parse_keyring(json.dumps(_secret("dev")))
    token = encode_jwt({"sub": "u"}, old_ring.signing_key()[1], first)

    second = signing_keys.add("dev")
    assert signing_keys.show("dev") == {"active": first, "kids": sorted([first, second])}
    signing_keys.activate("dev", second)
    ring = parse_keyring(json.dumps(_secret("dev")))
    assert ring.active_kid == second
    decode_jwt(token, ring.public_keys[first])  # old tokens still verify
    with pytest.raises(signing_keys.KeyringError, match="is active"):
        signing_keys.retire("dev", second)  # never the active key
    signing_keys.retire("dev", first)
    assert first not in parse_keyring(json.dumps(_secret("dev"))).public_keys
    private = [entry["private"] for entry in _secret("dev")["keys"].values()] + [hmac_key]
    assert not any(value in json.dumps(signing_keys.show("dev")) for value in private)
    assert _secret("dev")["hmac"] == hmac_key  # rotation keeps the keyed-hash key


def test_init_adds_the_keyed_hash_key_to_an_older_keyring() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    older = json.loads(generate_keyring_json("k-old"))
    del older["hmac"]
    client.create_secret(Name=signing_keys.secret_id("dev"), SecretString=json.dumps(older))
    assert signing_keys.init("dev") == "k-old"
    stored = _secret("dev")
    assert stored["keys"] == older["keys"]
    assert parse_keyring(json.dumps(stored)).hmac_key is not None


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_stages_new_writes_the_config_and_refuses_a_second_time(
    config_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(capsys, "stages", "new", "globex")
    assert code == 0
    printed = json.loads(out)["globex"]
    assert json.loads(config_copy.read_text())["stages"]["globex"] == printed
    assert printed["environment_variables"]["JWT_SIGNING_KEY_SECRET_ID"] == (
        "deskguard-globex-signing-keys"
    )
    assert _cli(capsys, "stages", "new", "globex") == (
        1,
        "",
        "error: Stage globex already exists in .chalice/config.json.\n",
    )
    assert stages.CONFIG_PATH != stages.ROOT / ".chalice" / "config.json"  # the copy, not ours


def test_keys_commands_rotate_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "keys", "show", "--stage", "dev")
    assert (code, out) == (1, "")  # the stack has not created the secret yet
    assert err.startswith("error: AWS has no such resource: ") and err.count("\n") == 1
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=signing_keys.secret_id("dev"), SecretString='{"uninitialized": true}'
    )
    assert _cli(capsys, "keys", "show", "--stage", "dev") == (
        1,
        "",
        "error: Stage dev has no keyring yet; run `keys init` first.\n",
    )
    code, out, _ = _cli(capsys, "keys", "init", "--stage", "dev")
    first = out.removeprefix("active kid: ").strip()
    assert code == 0 and first == _secret("dev")["active"]
    code, out, _ = _cli(capsys, "keys", "add", "--stage", "dev")
    second = out.removeprefix("added kid (verify-only): ").strip()
    assert code == 0 and second in _secret("dev")["keys"] and second != first
    assert _cli(capsys, "keys", "retire", first, "--stage", "dev") == (
        1,
        "",
        f"error: Key {first} is active; activate another one before retiring it.\n",
    )
    assert _cli(capsys, "keys", "activate", second, "--stage", "dev")[0] == 0
    assert _cli(capsys, "keys", "retire", first, "--stage", "dev")[0] == 0
    code, out, _ = _cli(capsys, "keys", "show", "--stage", "dev")
    assert (code, json.loads(out)) == (0, {"active": second, "kids": [second]})
    assert _cli(capsys, "keys", "activate", "k-nope", "--stage", "dev") == (
        1,
        "",
        "error: Stage dev has no key k-nope.\n",
    )
    assert _cli(capsys, "keys", "show", "--stage", "nosuch") == (
        1,
        "",
        "error: Stage nosuch is not in .chalice/config.json (see `make stage`).\n",
    )
