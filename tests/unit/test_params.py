import pytest

from psi0_core.params import ConfigError, Param, Schema, load_param_file

pytestmark = pytest.mark.unit

SCHEMA = Schema(
    "demo",
    (
        Param("rate_hz", "float", 500.0, "loop rate", range=(50.0, 1000.0)),
        Param("kp", "float_list", [1.0, 2.0], "gains", range=(0.0, 500.0), length=2, read_only=True),
        Param("engine", "str", "torch", "engine", choices=("torch", "onnx")),
        Param("enabled", "bool", False, "enable"),
    ),
)


def test_defaults_fill_missing_keys():
    assert SCHEMA.validate({}) == {"rate_hz": 500.0, "kp": [1.0, 2.0], "engine": "torch", "enabled": False}


def test_int_is_accepted_for_float_and_converted():
    assert SCHEMA.validate({"rate_hz": 250})["rate_hz"] == 250.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate_hz": 5000.0}, "outside the allowed range"),
        ({"rate_hz": "fast"}, "expected float"),
        ({"rate_hz": True}, "got bool"),
        ({"kp": [1.0]}, "expected 2 elements"),
        ({"kp": [1.0, 900.0]}, "outside the allowed range"),
        ({"engine": "tensorflow"}, "must be one of"),
        ({"rate_hx": 100.0}, "did you mean 'rate_hz'"),
    ],
)
def test_bad_values_fail_loudly(values, message):
    with pytest.raises(ConfigError, match=message):
        SCHEMA.validate(values)


def test_invalid_default_is_rejected_at_schema_definition():
    with pytest.raises(ConfigError):
        Param("x", "float", 10.0, "x", range=(0.0, 1.0))


def test_duplicate_names_rejected():
    with pytest.raises(ConfigError, match="declared twice"):
        Schema("n", (Param("a", "int", 1, ""), Param("a", "int", 2, "")))


def test_param_file_sections_merge(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("/**:\n  ros__parameters: {rate_hz: 100.0}\ndemo:\n  ros__parameters: {engine: onnx}\n")
    assert load_param_file(f, "demo") == {"rate_hz": 100.0, "engine": "onnx"}
    f.write_text("/**/demo:\n  ros__parameters: {engine: onnx}\n")
    assert load_param_file(f, "demo") == {"engine": "onnx"}
    assert SCHEMA.validate(load_param_file(f, "demo"))["engine"] == "onnx"


def test_markdown_lists_every_parameter():
    md = SCHEMA.markdown()
    for name in SCHEMA.names():
        assert f"`{name}`" in md


def test_the_project_parameter_files_apply_in_any_namespace():
    """rcl matches a `bridge:` section only to the node /bridge: under namespace:=g1 (/g1/bridge) the file was silently
    ignored, by `psi0 up` and `ros2 launch` alike. Sections must be `/**/<node>` (or `/**`)."""
    import yaml

    from psi0_core.share import share_dir

    files = sorted((share_dir() / "config" / "params").glob("*.yaml"))
    assert files
    for f in files:
        for key in yaml.safe_load(f.read_text()):
            assert key == "/**" or key.startswith("/**/"), f"{f.name}: section {key!r} applies only outside a namespace"
