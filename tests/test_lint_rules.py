"""lint/rules.py: the table of rules (tests/test_rules.py is generation/rules.py's)."""

from __future__ import annotations

from nginxgen.lint.rules import RULES


def test_rule_codes_are_unique_and_in_order() -> None:
    codes = [rule.code for rule in RULES]
    assert codes == sorted(set(codes))
