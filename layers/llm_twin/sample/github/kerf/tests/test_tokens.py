from kerf.tokens import estimate_tokens, from_tokenizer


class WordTokenizer:
    def encode(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]


def test_estimate_is_characters_over_four_rounded_up():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_from_tokenizer_counts_encoded_ids():
    count = from_tokenizer(WordTokenizer())
    assert count("ship small sleep well") == 4
    assert count("") == 0
