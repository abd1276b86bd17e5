import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpt import Vocabulary, build_prompt
from tenfold.cpt.prompt import single_token_id

TOKENIZER = Vocabulary()


def test_prompt_layout_and_mask_position():
    prompt = build_prompt(TOKENIZER, "The small circle.", "{query} is in [MASK] color .", 32, tags=["circle", "square"])
    words = TOKENIZER.convert_ids_to_tokens(prompt.input_ids)
    assert words == ["[CLS]", "the", "small", "circle", "is", "in", "[MASK]", "color", ".", "[SEP]", "circle", "square", "[SEP]"]
    assert prompt.mask_index == 6
    assert prompt.token_types == [0] * 10 + [1] * 3


def test_long_query_is_truncated_never_the_template():
    query = " ".join(["big"] * 40)
    prompt = build_prompt(TOKENIZER, query, "{query} is in [MASK] color .", 16)
    words = TOKENIZER.convert_ids_to_tokens(prompt.input_ids)
    assert len(words) == 16 and prompt.truncated
    assert words[-6:] == ["is", "in", "[MASK]", "color", ".", "[SEP]"]


@pytest.mark.parametrize("template", ["{query} is red .", "{query} [MASK] [MASK] .", "[MASK] is here ."])
def test_bad_templates(template):
    with pytest.raises(BadConfigError):
        build_prompt(TOKENIZER, "the circle", template, 32)


def test_bad_queries():
    with pytest.raises(BadInputError, match="empty"):
        build_prompt(TOKENIZER, " . ", "{query} is [MASK] .", 32)
    with pytest.raises(BadInputError, match="MASK"):
        build_prompt(TOKENIZER, "the [MASK] circle", "{query} is [MASK] .", 32)


def test_colour_words_must_be_single_known_tokens():
    assert TOKENIZER.convert_ids_to_tokens([single_token_id(TOKENIZER, "red")]) == ["red"]
    with pytest.raises(BadConfigError, match="light red"):
        single_token_id(TOKENIZER, "light red")
    with pytest.raises(BadConfigError, match="magenta"):
        single_token_id(TOKENIZER, "magenta")
