from decimal import Decimal

import pytest

from web.settings import DemoTier, from_environment, parse_demo_tiers


def test_demo_tiers_are_code_price_capacity_triples():
    assert parse_demo_tiers("VIP:100.00:100, GA:10.50:1000") == [
        DemoTier("VIP", Decimal("100.00"), 100),
        DemoTier("GA", Decimal("10.50"), 1000),
    ]


def test_an_empty_demo_tiers_setting_means_none():
    assert parse_demo_tiers("") == []


@pytest.mark.parametrize("text", ["VIP", "VIP:abc:1", "VIP:1.00:x", "VIP:1:2:3"])
def test_a_malformed_demo_tier_is_refused_with_its_text(text):
    with pytest.raises(ValueError, match=text.split(",")[0]):
        parse_demo_tiers(text)


def test_the_environment_overrides_the_defaults():
    config = from_environment({"MAX_TICKETS_PER_BOOKING": "4", "DEMO_TIERS": ""})
    assert (config["MAX_TICKETS_PER_BOOKING"], config["DEMO_TIERS"]) == (4, "")
