"""The model's values: a pipeline's identity and how it reads in a plan file."""

from __future__ import annotations

import pytest

from reconciler.model import PipelineKey


@pytest.mark.parametrize("text", ["acme/web/7", "acme/web/name:New pipeline", "acme/web/name:a/b"])
def test_a_pipeline_key_reads_back_as_the_plan_file_spells_it(text: str) -> None:
    assert str(PipelineKey.parse(text)) == text


def test_a_live_pipeline_is_keyed_by_id_and_a_new_one_by_name() -> None:
    assert PipelineKey.of("acme", "web", 7, "Release") == PipelineKey("acme", "web", 7)
    assert str(PipelineKey.of("acme", "web", None, "New")) == "acme/web/name:New"
    assert PipelineKey.parse("acme/web/7").project_key == ("acme", "web")


@pytest.mark.parametrize("text", ["acme/web", "acme/web/seven"])
def test_a_string_that_is_no_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        PipelineKey.parse(text)
