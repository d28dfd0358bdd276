def test_tiny_p_values_are_shown_as_a_bound() -> None:
    from closedloop.monitoring._html import fmt_p

    assert fmt_p(0.0) == "< 1e-16"
    assert fmt_p(0.0123) == "0.0123"
    assert fmt_p(float("nan")) == "-"
