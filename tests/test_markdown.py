"""inbol.markdown: the one markdown table of the generated pages (unpadded rows, the alignment row as asked)."""

from inbol.markdown import table


def test_a_table_is_unpadded_with_the_first_column_left_and_the_others_as_asked():
    assert table(["Method", "Acc", "RefR"], [["SFT", "51.2", "3.0"], ["CA-DPO", "48.9", "17.5"]]) == [
        "| Method | Acc | RefR |",
        "|---|---:|---:|",
        "| SFT | 51.2 | 3.0 |",
        "| CA-DPO | 48.9 | 17.5 |",
    ]
    assert table(["a", "b", "c"], [], ["---:", "---"]) == ["| a | b | c |", "|---|---:|---|"]
    assert table(["a", "b"], iter([["x", ""]]), "---", spaced=True) == ["| a | b |", "| --- | --- |", "| x |  |"]
