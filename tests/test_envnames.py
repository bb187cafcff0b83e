"""Names for the variables that stand for write-only values in imported files: readable, unique, valid."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from reconciler.importer.envnames import EnvNames


def test_passwords_are_named_after_the_registry_people_know():
    env = EnvNames()
    assert (
        env.password("P", {"name": "a", "docker_registry": "DOCKER_HUB", "login": "bot"}, "a") == "DOCKERHUB_PASSWORD"
    )
    assert env.password("P", {"name": "b", "docker_registry": "GIT_HUB_CONTAINER_REGISTRY"}, "b") == "GHCR_PASSWORD"
    assert env.password("P", {"name": "c", "docker_registry": "AMAZON_ECR"}, "c") == "ECR_PASSWORD"
    other = {"name": "d", "docker_registry": "OTHER", "registry": "https://registry.acme.io:5000/v2"}
    assert env.password("P", other, "d") == "REGISTRY_ACME_IO_PASSWORD"
    assert env.password("P", {"name": "e", "registry": "10.0.0.5:5000"}, "e") == "REGISTRY_10_0_0_5_PASSWORD"
    assert env.password("P", {"name": "Build app", "docker_registry": "NONE"}, "f") == "BUILD_APP_PASSWORD"


def test_one_login_at_one_registry_is_one_variable():
    env = EnvNames()
    first = env.password("P", {"name": "a", "docker_registry": "DOCKER_HUB", "login": "bot"}, "web / a")
    second = env.password("Q", {"name": "b", "docker_registry": "DOCKER_HUB", "login": "bot"}, "web / b")
    assert first == second == "DOCKERHUB_PASSWORD"
    assert env.described()["DOCKERHUB_PASSWORD"].endswith("used by web / a; web / b")


def test_another_login_at_the_same_registry_gets_its_own_readable_name():
    env = EnvNames()
    env.password("P", {"name": "a", "docker_registry": "DOCKER_HUB", "login": "bot"}, "a")
    assert env.password("P", {"name": "b", "docker_registry": "DOCKER_HUB", "login": "ci.user"}, "b") == (
        "DOCKERHUB_CI_USER_PASSWORD"
    )


def test_secret_values_are_named_after_action_and_secret_id():
    env = EnvNames()
    assert env.secret("Release", "Build app image", "npmrc", "x") == "BUILD_APP_IMAGE_SECRET_NPMRC"
    assert env.secret("Nightly", "Build app image", "npmrc", "y") == "NIGHTLY_BUILD_APP_IMAGE_SECRET_NPMRC"
    assert env.secret("Nightly", "Build app image", "npmrc", "z") == "BUILD_APP_IMAGE_SECRET_NPMRC_2"


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(names, names, names, st.sampled_from(["DOCKER_HUB", "OTHER", None])), max_size=12))
def test_every_name_is_valid_and_unique(requests: list[tuple[str, str, str, str | None]]):
    env = EnvNames()
    given_names: dict[tuple[str, ...], str] = {}
    for pipeline, action, secret, registry in requests:
        secret_name = env.secret(pipeline, action, secret, "w")
        assert secret_name not in given_names.values()
        given_names[("s", pipeline, action, secret, str(len(given_names)))] = secret_name
        env.password(pipeline, {"name": action, "docker_registry": registry, "login": secret}, "w")
    for name in env.described():
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), name


def test_a_name_never_starts_with_a_digit():
    assert EnvNames().secret("P", "2nd build", "1", "w") == "_2ND_BUILD_SECRET_1"


def test_another_write_only_field_is_named_after_the_action_and_the_field():
    env = EnvNames()
    action = {"name": "Build app", "login": "x"}
    assert env.for_write_only("Release", action, "login", "x", (), "w") == "BUILD_APP_LOGIN"
    secrets = [{"id": "npmrc", "value": "x"}]
    assert env.for_write_only("Release", action, "secrets", secrets, (0, "value"), "w") == "BUILD_APP_SECRET_NPMRC"


def test_names_taken_by_other_files_are_never_handed_out():
    env = EnvNames(taken={"BUILD_SECRET_NPMRC", "R1_TEST_PASSWORD"})
    assert env.secret("Release", "Build", "npmrc", "w") == "RELEASE_BUILD_SECRET_NPMRC"
    assert env.password("Release", {"name": "Build", "registry": "r1.test", "login": "carol"}, "w") == (
        "R1_TEST_CAROL_PASSWORD"
    )
    assert "BUILD_SECRET_NPMRC" not in env.described()
