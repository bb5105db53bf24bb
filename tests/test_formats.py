"""core/formats.py: GitHub workflow-command escaping (the enums beside it are declarations).
lint/formats.py's tests are in test_lint_formats.py."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from nginxgen.core.formats import annotation_data, annotation_property


def test_data_escapes_percent_and_line_breaks() -> None:
    assert annotation_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert annotation_data("a:b,c") == "a:b,c"


def test_a_property_also_escapes_its_separators() -> None:
    assert annotation_property("env/a,b.yaml: x") == "env/a%2Cb.yaml%3A x"


@given(st.text())
def test_escaped_text_cannot_end_a_command_and_decodes_back(text: str) -> None:
    data = annotation_data(text)
    prop = annotation_property(text)
    assert "\n" not in data and "\r" not in data
    assert not {"\n", "\r", ":", ","} & set(prop)
    # GitHub decodes %XX; the escaping is the only use of '%' left, so it round-trips.
    assert unquote(data, errors="strict") == text
    assert unquote(prop, errors="strict") == text
