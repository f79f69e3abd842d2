"""Write the small saved stores in tests/data/stores-format2 (manifest format 2).

Run once with the code of commit 2061b5f, before the restructuring, as
``PYTHONPATH=<checkout of 2061b5f> python tests/helpers/make_format2_stores.py tests/data/stores-format2``;
tests/classifier/test_format_compat.py checks that today's code loads them and answers the same.
"""

import json
import sys

import numpy as np

from fewshot import FewShotClassifier

out = sys.argv[1]
rng = np.random.default_rng(42)
centres = rng.normal(size=(4, 8)).astype(np.float32)
shots = {
    f"class-{i}": centres[i] + 0.1 * rng.normal(size=(3, 8)).astype(np.float32) for i in range(4)
}
shots[7] = centres[0] * -1 + 0.1 * rng.normal(size=(2, 8)).astype(np.float32)  # an int label
queries = np.concatenate([centres, -centres[:1]]) + 0.05 * rng.normal(size=(5, 8)).astype(
    np.float32
)


def save(name, clf):
    clf.save(f"{out}/{name}")
    r = clf.query(queries, k=3)
    expected = {
        "queries": queries.tolist(),
        "labels": r.labels.tolist(),
        "scores": r.scores.tolist(),
        "rejected": r.rejected.tolist(),
    }
    with open(f"{out}/{name}.expected.json", "w") as handle:
        json.dump(expected, handle)


clf = FewShotClassifier(None, threshold=0.5)
clf.register_many(shots)
clf.register("class-0", centres[:1] + 0.1)  # extended class
clf.remove("class-3")
save("features-prototype-cosine", clf)
clf = FewShotClassifier(None, mode="knn", metric="euclidean", n_neighbors=2)
clf.register_many(shots)
save("features-knn-euclidean", clf)
clf = FewShotClassifier(None, store="ivf")
clf.register_many(shots)
clf.finetune(part="head", episodes=20, progress=False)
save("features-ivf-head", clf)
clf = FewShotClassifier("minilm", threshold=0.3)
clf.register_many({"greet": ["hello there", "good morning"], "bye": ["see you later", "goodbye"]})
clf.save(f"{out}/text-minilm")
r = clf.query(["hi!", "farewell"], k=2)
expected = {
    "queries": ["hi!", "farewell"],
    "labels": r.labels.tolist(),
    "scores": r.scores.tolist(),
}
with open(f"{out}/text-minilm.expected.json", "w") as handle:
    json.dump(expected, handle)
print("ok")
