"""The refusal texts: the paper's refusal prompt and its canonical refusal, and the project's refusal
templates (of the kind of the paper's appendix C, Figure 5).  Data only (no imports), so the params schema
and the tokenizer can read them without loading anything else; detection is :mod:`inbol.judge.refusal`."""

# The paper's baseline prompt (section 4.1.2), appended to the question, and its canonical refusal.
PAPER_REFUSAL = "Sorry, I can not help with it."
REFUSAL_PROMPT = (
    'If you don\'t have enough information to answer the question, respond with "Sorry, I can not help with it."'
)

# The project's own refusal templates, of the kind of the paper's appendix C (Figure 5).
REFUSAL_TEMPLATES: tuple[str, ...] = (
    PAPER_REFUSAL,
    "Sorry, I can not help with that.",
    "I don't know.",
    "I do not know the answer.",
    "I'm not sure about this.",
    "I'm not sure.",
    "I have no idea.",
    "The image does not provide enough information to answer this question.",
    "There is not enough information in the image to answer.",
    "I don't have enough information to answer this.",
    "Sorry, I don't know the answer to this one.",
    "I'm afraid I can't answer that.",
    "I can't tell from this image.",
    "I am not able to answer this question reliably.",
    "Sorry, I'm not certain enough to give an answer.",
    "This question can't be answered from the image.",
    "Sorry, that is beyond what I can tell.",
    "I'm unable to answer this question.",
    "Sorry, I have no way to know that.",
    "The answer cannot be determined from the picture.",
    "I'm not confident enough to answer this.",
    "Sorry, I can't give a reliable answer here.",
    "Sorry, I'd rather not guess.",
    "This is unanswerable with the information given.",
    "Sorry, this is outside what I know.",
    "I cannot answer that based on what I can see.",
    "Sorry, I can't identify that.",
    "Sorry, I can't say for sure.",
    "It is impossible to tell from this image.",
    "I can't answer this question with certainty.",
    "Sorry, I lack the knowledge to answer this.",
    "It's hard to tell from what is shown.",
)
