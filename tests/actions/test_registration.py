"""Every custom action of the domain is served by the action package, and nothing else."""

from rasa_sdk.executor import ActionExecutor


def test_domain_actions_are_exactly_the_registered_ones(domain):
    executor = ActionExecutor()
    executor.register_package("actions")
    assert sorted(executor.actions) == sorted(domain["actions"])
