"""The Arthas command-line tokeniser and the declared-argument parser."""

import pytest

from livescope.commands.cmdline import CommandLineError, parse_command_line, tokenize
from livescope.commands.spec import Argument, ArgumentError, Option, parse_args


def test_seed_watch_line_keeps_the_quoted_express_whole():
    line = parse_command_line('watch demo.MathGame primeFactors "{params, returnObj, throwExp}" ')
    assert line.name == "watch"
    assert line.args == ["demo.MathGame", "primeFactors", "{params, returnObj, throwExp}"]
    assert not line.background


def test_map_express_in_single_quotes_keeps_its_double_quotes():
    line = parse_command_line(
        """watch *MathGame prime* '#{ "params" : params, "returnObj" : returnObj}' -x 2 -n 5"""
    )
    assert line.args[2] == '#{ "params" : params, "returnObj" : returnObj}'
    assert line.args[3:] == ["-x", "2", "-n", "5"]


def test_trailing_ampersand_makes_a_background_job_and_pipes_are_split_off():
    line = parse_command_line("thread | grep main &")
    assert line.background
    assert line.args == []
    assert line.pipes == [["grep", "main"]]


def test_escapes_and_unclosed_quotes():
    assert tokenize(r'echo a\ b "x\"y"') == ["echo", "a b", 'x"y']
    with pytest.raises(CommandLineError):
        tokenize('echo "open')


SPEC_OPTIONS = (
    Option("expand", "x", type=int, default=1),
    Option("limits", "n", type=int),
    Option("before", "b", flag=True),
    Option("exception", "e", flag=True),
)
SPEC_ARGS = (Argument("class-pattern"), Argument("method-pattern", required=False))


def test_options_flags_and_positionals():
    args = parse_args(SPEC_OPTIONS, SPEC_ARGS, ["-x", "3", "demo.*", "-be", "-n5", "prime*"])
    assert args.expand == 3 and args.limits == 5
    assert args.before and args.exception
    assert args.class_pattern == "demo.*" and args.method_pattern == "prime*"


def test_missing_required_argument_uses_the_arthas_message():
    with pytest.raises(ArgumentError, match="The argument 'class-pattern' is required"):
        parse_args(SPEC_OPTIONS, SPEC_ARGS, [])


def test_bad_values_and_unknown_options_are_explained():
    with pytest.raises(ArgumentError, match="'abc' is not an integer"):
        parse_args(SPEC_OPTIONS, SPEC_ARGS, ["a", "-n", "abc"])
    with pytest.raises(ArgumentError, match="Unrecognized option: '--nope'"):
        parse_args(SPEC_OPTIONS, SPEC_ARGS, ["a", "--nope"])
