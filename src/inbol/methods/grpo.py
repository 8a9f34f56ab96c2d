"""GRPO with the S_trust reward, an RL method beyond the paper (as TruthRL, Meta 2025, does for text LLMs): TRL's
GRPOTrainer samples completions to the questions of CA-DPO's preference set and rewards each by the project's
judge, +1 correct, 0 refusal, -1 incorrect (whose mean is S_trust), from the IDK-IT model (inbol.training.grpo)."""

from .spec import make

SPEC = make(
    name="grpo",
    label="GRPO (S_trust reward)",
    kind="rl",
    start="idk_it",
    data="preference",
    loss=None,
    paper_table1=None,
    paper_table3=None,
    paper_table4=None,
    tables=("table1", "table2", "table3", "table4", "figure4"),
    order=47,
)
