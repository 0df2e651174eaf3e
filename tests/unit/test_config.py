"""Configuration: YAML + environment precedence, validation naming the setting, emulator default."""

from pathlib import Path

import pytest

from server.config import ConfigError, load_config


def test_defaults_want_the_emulator() -> None:
    config = load_config(env={})
    assert config.server.listen == "0.0.0.0:50051"
    assert config.vertex.location == "us-central1"
    assert config.wants_emulator()


def test_yaml_then_env_precedence(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "server: {listen: '127.0.0.1:6000', access_log: true}\n"
        "vertex:\n  project: yaml-project\n  location: europe-west4\n"
        "  credentials: {source: adc}\n"
        "aliases: {fast: gemini-2.5-flash}\nallow_models: [gemini-2.5-flash]\n"
    )
    config = load_config(
        env={"VG_LOCATION": "global", "VG_ALIASES": "x=gemini-2.5-pro"}, path=str(path)
    )
    assert config.server.listen == "127.0.0.1:6000" and config.server.access_log is True
    assert config.vertex.project == "yaml-project"
    assert config.vertex.location == "global"  # env wins
    assert dict(config.aliases) == {"x": "gemini-2.5-pro"}
    assert config.allow_models == ("gemini-2.5-flash",)
    assert not config.wants_emulator()


def test_vg_names_win_over_google_names() -> None:
    config = load_config(env={"GOOGLE_CLOUD_PROJECT": "a", "VG_PROJECT": "b"})
    assert config.vertex.project == "b"


def test_credentials_alone_disable_the_emulator() -> None:
    assert not load_config(env={"VG_API_KEY": "k"}).wants_emulator()
    assert not load_config(env={"GOOGLE_APPLICATION_CREDENTIALS": "/x.json"}).wants_emulator()
    assert load_config(env={"VG_EMULATOR": "on", "GOOGLE_CLOUD_PROJECT": "p"}).wants_emulator()


def test_secrets_are_not_in_repr() -> None:
    config = load_config(
        env={"VG_API_KEY": "AIzaSECRET", "VG_CREDENTIALS_JSON": '{"private_key": "K"}'}
    )
    assert "AIzaSECRET" not in repr(config) and "private_key" not in repr(config)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"VG_LOCATION": "Bad/Loc"}, "vertex.location"),
        ({"VG_LISTEN": "nonsense"}, "server.listen"),
        ({"VG_CREDENTIALS": "magic"}, "vertex.credentials.source"),
        ({"VG_MAX_MESSAGE_BYTES": "abc"}, "server.max_message_bytes"),
        ({"VG_ALIASES": "novalue"}, "VG_ALIASES"),
        ({"VG_EMULATOR": "maybe"}, "emulator"),
        ({"VG_EVENT_LOOP": "trio"}, "server.event_loop"),
    ],
)
def test_invalid_settings_are_named(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(env=env)


def test_unknown_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("server: {lisen: x}\n")
    with pytest.raises(ConfigError, match="lisen"):
        load_config(env={}, path=str(path))


def test_models_section_adds_and_overrides_models(tmp_path: Path) -> None:
    from server.routing.registry import Capability, Family, Reasoning, Registry
    from server.routing.router import Router

    path = tmp_path / "gw.yaml"
    path.write_text(
        "models:\n"
        "  - {model: anthropic/claude-sonnet-4-5@20250929, location: europe-west1}\n"
        "  - model: acme/tuned-llama\n"
        "    family: openai_compatible\n"
        "    endpoint: '1234567890'\n"
        "    capabilities: [chat, streaming, reasoning]\n"
    )
    config = load_config({"VG_MODEL_LOCATIONS": "gemini-2.5-pro=global"}, str(path))
    registry = Registry()
    for spec in config.models:
        registry.add(spec)
    claude = registry.get("anthropic", "claude-sonnet-4-5@20250929")
    assert claude is not None and claude.location == "europe-west1"
    assert claude.family is Family.CLAUDE and Capability.TOOLS in claude.capabilities
    tuned = registry.get(None, "tuned-llama")
    assert tuned is not None and tuned.endpoint == "1234567890"
    assert tuned.reasoning is Reasoning.OPENAI_EFFORT and Capability.TOOLS not in tuned.capabilities
    router = Router(registry, default_location="us-central1")
    assert router.resolve("gemini-2.5-pro", Capability.CHAT).location == "global"
    assert router.resolve("acme/tuned-llama", Capability.CHAT).location == "us-central1"


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("models: {a: b}\n", "models must be a list"),
        ("models: [{model: acme/x}]\n", "models[0].family is required"),
        ("models: [{model: acme/x, family: martian}]\n", "models[0]"),
        ("models: [{model: x-without-publisher, family: gemini}]\n", "publisher/model"),
        ("models: [{model: acme/x, family: gemini, capabilities: [telepathy]}]\n", "telepathy"),
        ("models: [{model: acme/x, family: gemini, location: 'Mars 1'}]\n", "location"),
        ("models: [{model: acme/x, family: gemini, colour: red}]\n", "colour"),
    ],
)
def test_bad_model_entries_are_named(tmp_path: Path, yaml_text: str, needle: str) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config({}, str(path))
    assert needle in str(info.value)


def test_a_model_named_two_ways_is_one_entry(tmp_path: Path) -> None:
    from server.routing.registry import Capability

    path = tmp_path / "gw.yaml"
    path.write_text("models: [{model: google/gemini-2.5-flash, capabilities: [chat, streaming]}]\n")
    config = load_config({"VG_MODEL_LOCATIONS": "gemini-2.5-flash=europe-west4"}, str(path))
    [spec] = config.models
    assert spec.location == "europe-west4"
    assert spec.capabilities == frozenset({Capability.CHAT, Capability.STREAMING})
    path.write_text("models: [{model: acme/x, family: gemini, capabilities: 5}]\n")
    with pytest.raises(ConfigError, match="capabilities must be a list"):
        load_config({}, str(path))
