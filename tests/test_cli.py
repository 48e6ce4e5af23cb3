"""The command line: help with defaults, one-line errors with non-zero exits, tracebacks only on --verbose."""

import subprocess
import sys

import pytest

from genome_plugin import cli


def run(*args):
    return subprocess.run([sys.executable, "-m", "genome_plugin.cli", *args], capture_output=True, text=True,
                          check=False)


def test_help_lists_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("plugins", "models"):
        assert command in result.stdout


def test_every_command_has_help_with_defaults():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "--verbose" in text, name
        for action in command._actions:
            if action.default not in (None, False, "==SUPPRESS==") and action.help and action.option_strings:
                assert "default" in command.format_help().lower(), name


def test_error_is_one_line_and_exits_non_zero():
    result = run("models", "--tracks", "no-such-model")
    assert result.returncode == cli.EXIT_INPUT_ERROR
    lines = result.stderr.strip().splitlines()
    assert lines == ["genome-plugin models: error: unknown model 'no-such-model'; installed models: "
                     + lines[0].split("installed models: ")[1]]
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback():
    result = run("models", "--tracks", "no-such-model", "--verbose")
    assert result.returncode == cli.EXIT_INPUT_ERROR
    assert "Traceback" in result.stderr and "unknown model" in result.stderr


def test_main_returns_exit_code_in_process(capsys):
    assert cli.main(["models", "--tracks", "nope"]) == cli.EXIT_INPUT_ERROR
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
