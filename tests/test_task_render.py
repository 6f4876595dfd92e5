"""Filling an Email Task's placeholders, and merging the task over its template."""

import pytest

from connections.tasks.render import (
    Draft,
    RenderError,
    Segment,
    UnknownPlaceholders,
    is_name,
    merged,
    placeholders,
    render,
    segments,
    variables,
)


def test_placeholders_are_filled_in_subject_body_and_recipients():
    draft = Draft(
        to="${team}@example.com",
        cc="$boss",
        subject="Job ${job} failed",
        body="Hello $team,\njob ${job} failed.",
    )

    done = render(draft, {"team": "ops", "boss": "boss@example.com", "job": "nightly"})

    assert done == Draft(
        to="ops@example.com",
        cc="boss@example.com",
        subject="Job nightly failed",
        body="Hello ops,\njob nightly failed.",
    )


def test_a_double_dollar_is_a_dollar_sign():
    assert render(Draft(body="Costs $$5 for ${n}"), {"n": "two"}).body == "Costs $5 for two"


def test_every_unknown_placeholder_is_named_with_where_it_is():
    draft = Draft(to="${who}", subject="${job} on ${host}", body="${job} failed on $host")

    with pytest.raises(UnknownPlaceholders) as error:
        render(draft, {"job": "nightly"})

    assert error.value.names == ["who", "host"]
    assert str(error.value).startswith(
        "Unknown placeholders ${who}, ${host} (who in To; host in Subject, Body)"
    )


def test_one_unknown_placeholder_is_named_alone():
    with pytest.raises(UnknownPlaceholders, match=r"^Unknown placeholder \$\{x\} \(x in Body\)"):
        render(Draft(body="${x}"), {})


def test_nothing_is_evaluated_or_looked_up_outside_the_variables():
    draft = Draft(body="${__class__} ${settings}")

    with pytest.raises(UnknownPlaceholders) as error:
        render(draft, {})

    assert error.value.names == ["__class__", "settings"]
    assert placeholders("${a.b} ${c[0]} ${d}") == ["d"]


def test_a_value_is_inserted_as_it_is_and_not_filled_again():
    done = render(Draft(body="${a}"), {"a": "${b} {0.__class__}", "b": "no"})

    assert done.body == "${b} {0.__class__}"


def test_a_lone_dollar_is_an_error_naming_the_field_and_where():
    with pytest.raises(RenderError, match=r"^Body: a \$ that starts no placeholder at line 2, "):
        render(Draft(body="Price:\n  $5"), {})


def test_a_value_cannot_break_a_header_onto_two_lines():
    with pytest.raises(RenderError, match=r"^Subject would contain a line break"):
        render(Draft(subject="Job ${job}"), {"job": "x\r\nBcc: victim@example.com"})


def test_a_value_may_hold_line_breaks_in_the_body():
    assert render(Draft(body="${lines}"), {"lines": "a\nb"}).body == "a\nb"


def test_task_values_override_template_values_field_by_field():
    template = Draft(to="ops@example.com", cc="cc@example.com", subject="From template", body="T")
    task = Draft(cc="other@example.com", subject="  ", body="From task")

    assert merged(template, task) == Draft(
        to="ops@example.com", cc="other@example.com", subject="From template", body="From task"
    )
    assert merged(None, task) == task


def test_run_now_values_override_the_task_variables():
    assert variables({"a": "task", "b": "task"}, {"b": "run", "c": 3}) == {
        "a": "task",
        "b": "run",
        "c": "3",
    }
    assert variables({"a": 1}) == {"a": "1"}


def test_a_draft_is_read_from_any_record_with_the_message_fields():
    class Template:
        to = "ops@example.com"
        subject = "Hi"
        body = "Body"
        cc = None

    assert Draft.of(Template()) == Draft(to="ops@example.com", subject="Hi", body="Body")
    assert Draft.of(None) == Draft()


def test_placeholders_are_listed_in_order_of_first_appearance():
    assert placeholders("${b} $a ${b} $$c") == ["b", "a"]


def test_a_preview_fills_known_placeholders_and_marks_unknown_ones():
    assert segments("Hi ${name}, job $job: $$5 $", {"name": "Ann"}) == [
        Segment("Hi Ann, job "),
        Segment("$job", "unknown", "job"),
        Segment(": $5 "),
        Segment("$", "invalid"),
    ]


def test_names_follow_string_template_rules():
    assert is_name("job_2")
    assert not is_name("2job")
    assert not is_name("a-b")
    assert not is_name("a}${b")
