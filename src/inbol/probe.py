"""Linear probing: intrinsic versus extrinsic unknowns (paper appendix G.4, Table 7).

The paper feeds 2,000 "unknown" training questions (confidence below 0.2) to the trained model, takes the
final layer's hidden state, trains a "three-layer linear classifier" to tell the two kinds of unknown apart
and tests it on 200 unknown questions of the in-domain test set: 87.01% (IDK-IT), 80.83% (CA-DPO).

The two classes (label 0 / 1):

- **intrinsic** (the model lacks the knowledge or the perception): answerable questions whose original-model
  confidence is at most ``max_conf`` (the construct stage's Unknown rule, ``conf <= delta_uk`` up to
  :data:`inbol.boundary.EPS`; the paper writes "below 0.2");
- **extrinsic** (the image lacks the information): the generated unanswerable questions.

Where they come from (see docs/probe.md):

- train: intrinsic = ``data/restructured/pool.jsonl`` records with ``origin`` vqa (or none) and conf <=
  ``max_conf``; extrinsic = ``data/unanswerable/kept.jsonl`` (questions generated on pool images and kept
  by the filter), plus any pool record with ``origin: unanswerable``.  Both are the questions the training
  data is built from, as in the paper;
- test: the in-domain test sets of ``data/testsets`` (what Table 1 evaluates on): intrinsic = the answerable
  sets' questions with ``conf_base <= max_conf`` (the original model's conf from its samples on the test
  split), extrinsic = the unanswerable in-domain set (UaVQA, generated on TEST images and kept by the strict
  oracle).  Pool and test images are different world splits, so no image is shared between train and test.

Each split is balanced by a seeded subsample of the larger class (at most ``train_per_class`` /
``test_per_class`` per class), so chance is 50% and accuracy equals balanced accuracy.  Too few questions
of a class (below ``min_per_class``) is a one-line :class:`DataError` with the counts, raised by
:func:`select_examples`, before any model is loaded.

Features (:func:`extract_features`): the language model's last hidden state (after the final norm) at the
last prompt token of ``USER: <image>\\n{question} ASSISTANT:`` (the generation prompt, so the position whose
state decides the first answer token), batched with left padding and position ids from the attention mask,
so a question's feature does not depend on the batch it is in.

Classifiers (scikit-learn pipelines), on features standardised with the training mean and standard deviation
(StandardScaler):

- ``mlp``: the paper's three-layer classifier (Linear-ReLU-Linear-ReLU-Linear: MLPClassifier), full-batch
  Adam for a fixed number of epochs;
- ``logreg``: logistic regression (LogisticRegression: L2 penalty, L-BFGS), a strictly linear second
  reading;
- ``shuffled``: the MLP trained on permuted training labels and tested on the true test labels,
  ``control_repeats`` times: a control that must sit near 50%; well above it means the probe memorises
  something other than the label.
"""

from __future__ import annotations

import collections
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from .boundary.split import EPS
from .errors import DataError
from .schema.probe import Probe

LABELS = ("intrinsic", "extrinsic")  # label 0, label 1
PAPER_ACCURACY: dict[str, float] = {"idk_it": 87.01, "ca_dpo": 80.83}  # Table 7, LLaVA-1.5-7B, percent
_TRAIN_STREAM, _TEST_STREAM, _SHUFFLE_STREAM = 41, 42, 43


# --------------------------------------------------------------------------------------------
# the examples
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeData:
    """Balanced train and test examples ``{id, image, question, label, group}`` and the counts behind them."""

    train: list[dict]
    test: list[dict]
    counts: dict


def is_unknown(conf, max_conf: float) -> bool:
    """conf <= max_conf up to :data:`EPS` (the Unknown rule of the construct stage); None is never unknown."""
    return conf is not None and float(conf) <= max_conf + EPS


def _example(r: dict, label: int, group: str) -> dict:
    return {"id": r["id"], "image": r["image"], "question": r["question"], "label": label, "group": group}


def train_candidates(pool: Sequence[dict], unanswerable: Sequence[dict], max_conf: float) -> dict[str, list[dict]]:
    """Training candidates per class: intrinsic = answerable pool questions with conf <= max_conf (group =
    the question's family), extrinsic = the kept unanswerable questions and the pool's ``origin:
    unanswerable`` records (group = the generation method); ids are de-duplicated."""
    out: dict[str, list[dict]] = {c: [] for c in LABELS}
    seen: set[str] = set()
    for r in pool:
        if r.get("origin") == "unanswerable" or r.get("kind") == "unanswerable":
            continue
        if is_unknown(r.get("conf"), max_conf) and r["id"] not in seen:
            seen.add(r["id"])
            out["intrinsic"].append(_example(r, 0, r.get("meta", {}).get("family", r.get("kind", "vqa"))))
    extrinsic = list(unanswerable) + [r for r in pool if r.get("origin") == "unanswerable"]
    for r in extrinsic:
        if r["id"] not in seen:
            seen.add(r["id"])
            out["extrinsic"].append(_example(r, 1, r.get("meta", {}).get("method", "unanswerable")))
    return out


def eval_candidates(testsets: Mapping, max_conf: float) -> dict[str, list[dict]]:
    """Test candidates per class from the in-domain test sets (``inbol.evaluation.TestSet`` objects):
    intrinsic = answerable sets' questions with conf_base <= max_conf, extrinsic = the unanswerable sets'
    questions (UaVQA); group = the set's name."""
    out: dict[str, list[dict]] = {c: [] for c in LABELS}
    for name, ts in testsets.items():
        if ts.group != "in_domain":
            continue
        for r in ts.records:
            if not ts.answerable:
                out["extrinsic"].append(_example(r, 1, name))
            elif is_unknown(r.get("conf_base"), max_conf):
                out["intrinsic"].append(_example(r, 0, name))
    return out


def balanced(candidates: Mapping[str, Sequence[dict]], cap: int | None, seed: int, stream: int) -> list[dict]:
    """The same number of examples from each class, min(cap, smallest class), drawn with a generator seeded
    by (seed, stream, class); each class keeps its input order."""
    n = min(len(candidates[c]) for c in LABELS)
    if cap is not None:
        n = min(n, cap)
    out = []
    for k, c in enumerate(LABELS):
        recs = candidates[c]
        idx = np.random.default_rng([seed, stream, k]).choice(len(recs), size=n, replace=False)
        out.extend(recs[i] for i in sorted(int(i) for i in idx))
    return out


def check_counts(available: Mapping[str, Mapping[str, int]], min_per_class: int, max_conf: float) -> None:
    """A one-line DataError naming the counts when a class of either split has fewer than ``min_per_class``."""
    for split, verb in (("train", "train on"), ("test", "test on")):
        c = available[split]
        if min(c[k] for k in LABELS) < min_per_class:
            raise DataError(
                f"probe: too few {split} examples to {verb}: {c['intrinsic']} intrinsic (answerable, "
                f"conf <= {max_conf:g}) and {c['extrinsic']} extrinsic (unanswerable); "
                f"probe.min_per_class = {min_per_class}"
            )


def _by_group(examples: Sequence[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c, lab in zip(LABELS, (0, 1)):
        out[c] = dict(sorted(collections.Counter(e["group"] for e in examples if e["label"] == lab).items()))
    return out


def select_examples(
    pool: Sequence[dict], unanswerable: Sequence[dict], testsets: Mapping, cfg: Probe, check_images: bool = True
) -> ProbeData:
    """The balanced train and test examples; the counts are checked (and, with ``check_images``, that every
    image exists) before anything is loaded."""
    cands = {
        "train": train_candidates(pool, unanswerable, cfg.max_conf),
        "test": eval_candidates(testsets, cfg.max_conf),
    }
    available = {s: {c: len(cands[s][c]) for c in LABELS} for s in cands}
    check_counts(available, cfg.min_per_class, cfg.max_conf)
    train = balanced(cands["train"], cfg.train_per_class, cfg.seed, _TRAIN_STREAM)
    test = balanced(cands["test"], cfg.test_per_class, cfg.seed, _TEST_STREAM)
    overlap = {e["id"] for e in train} & {e["id"] for e in test}
    if overlap:
        raise DataError(f"probe: {len(overlap)} question id(s) in both train and test, e.g. {sorted(overlap)[0]!r}")
    if check_images:
        for e in train + test:
            if not Path(e["image"]).is_file():
                raise DataError(f"probe: image {e['image']!r} of question {e['id']!r} not found")
    counts = {}
    for split, ex in (("train", train), ("test", test)):
        counts[split] = {
            "available": available[split],
            "used": {c: sum(e["label"] == k for e in ex) for k, c in enumerate(LABELS)},
            "n": len(ex),
            "share_extrinsic": round(sum(e["label"] for e in ex) / len(ex), 4),
            "by_group": _by_group(ex),
        }
    return ProbeData(train, test, counts)


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def extract_features(
    model, fmt, records: Sequence[dict], *, batch_size: int = 32, desc: str = "probe: features", progress: bool = True
) -> torch.Tensor:
    """``(len(records), hidden_size)`` float32 CPU tensor: the language model's last hidden state at the
    last prompt token of each record's generation prompt (``fmt``, the one prompt formatter)."""
    from .models.generate import open_images

    processor = fmt.processor
    tok = processor.tokenizer
    tok.padding_side = "left"
    device = next(model.parameters()).device
    backbone = getattr(model, "model", model)  # LlavaModel: hidden states without the LM head
    feats = []
    for start in tqdm(range(0, len(records), batch_size), desc=desc, disable=not progress, mininterval=2):
        chunk = records[start : start + batch_size]
        batch = processor(
            images=open_images([r["image"] for r in chunk]),
            text=[fmt.prompt(r["question"]) for r in chunk],
            return_tensors="pt",
            padding=True,
        ).to(device)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(model.dtype)
        mask = batch["attention_mask"]  # positions from the mask: left padding does not shift them
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = backbone(**batch, position_ids=position_ids, use_cache=False)
        feats.append(out.last_hidden_state[:, -1, :].float().cpu())
    if not feats:
        raise DataError("probe: no questions to extract features from")
    return torch.cat(feats)


# --------------------------------------------------------------------------------------------
# classifiers
# --------------------------------------------------------------------------------------------


def mlp(n: int, cfg: Probe, seed: int) -> Pipeline:
    """The paper's "three-layer" classifier (three linear layers, ReLUs between them) on standardised
    features: scikit-learn's MLPClassifier, full batch (``n`` rows), Adam for exactly ``cfg.epochs`` epochs
    (no early stop), L2 penalty ``cfg.weight_decay``."""
    net = MLPClassifier(
        tuple(cfg.hidden_sizes),
        alpha=cfg.weight_decay,
        batch_size=n,
        learning_rate_init=cfg.lr,
        max_iter=cfg.epochs,
        shuffle=False,
        tol=0.0,
        n_iter_no_change=cfg.epochs,
        random_state=seed,
    )
    return make_pipeline(StandardScaler(), net)


def logreg(n: int, l2: float, max_iter: int = 200) -> Pipeline:
    """Logistic regression on standardised features, mean cross-entropy + ``l2``/2 |w|^2 (scikit-learn's
    ``C = 1 / (n l2)``; the intercept is not penalised), L-BFGS."""
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0 / (n * l2) if l2 > 0 else np.inf, max_iter=max_iter)
    )


def fit(clf: Pipeline, x: np.ndarray, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings():  # a fixed number of epochs or iterations is the setting, not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(x, y)


def scores(pred: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and per-class recall, percent."""
    pred, y = np.asarray(pred), np.asarray(y)
    out = {"accuracy": round(100.0 * float((pred == y).mean()), 2)}
    recalls = []
    for k, c in enumerate(LABELS):
        m = y == k
        r = 100.0 * float((pred[m] == k).mean()) if m.any() else float("nan")
        recalls.append(r)
        out[f"recall_{c}"] = None if math.isnan(r) else round(r, 2)
    ok = [r for r in recalls if not math.isnan(r)]
    out["balanced_accuracy"] = round(sum(ok) / len(ok), 2) if ok else None
    return out


def by_group(pred: np.ndarray, y: np.ndarray, groups: Sequence[str]) -> dict[str, dict]:
    """Accuracy and count per group (the test set a question comes from)."""
    g = np.asarray(groups)
    return {
        k: {"n": int((g == k).sum()), "accuracy": round(100.0 * float((pred == y)[g == k].mean()), 2)}
        for k in sorted(set(groups))
    }


def probe_features(x_train, y_train, x_test, y_test, cfg: Probe, groups_test: Sequence[str] | None = None) -> dict:
    """Train the MLP, the logistic regression and the shuffled-label control on the training features and
    score them on the test features (percent); features and labels are arrays or CPU tensors."""
    # float32 (the features' own precision): scikit-learn keeps it, twice as fast as float64
    x_train, x_test = np.asarray(x_train, dtype=np.float32), np.asarray(x_test, dtype=np.float32)
    y_train, y_test = np.asarray(y_train).astype(int), np.asarray(y_test).astype(int)
    if len(set(y_train.tolist())) < 2:
        raise DataError("probe: the training labels hold a single class")
    n = len(x_train)
    out: dict = {"feature_dim": int(x_train.shape[1])}
    net = fit(mlp(n, cfg, cfg.seed), x_train, y_train)
    pred = net.predict(x_test)
    out["mlp"] = {**scores(pred, y_test), "train_accuracy": scores(net.predict(x_train), y_train)["accuracy"]}
    if groups_test is not None:
        out["mlp"]["by_group"] = by_group(pred, y_test, groups_test)
    lr = fit(logreg(n, cfg.logreg_l2), x_train, y_train)
    out["logreg"] = {
        **scores(lr.predict(x_test), y_test),
        "train_accuracy": scores(lr.predict(x_train), y_train)["accuracy"],
    }
    runs = []
    for rep in range(cfg.control_repeats):
        g = torch.Generator().manual_seed(cfg.seed * 1000 + _SHUFFLE_STREAM + rep)
        y_perm = y_train[torch.randperm(n, generator=g).numpy()]
        runs.append(scores(fit(mlp(n, cfg, cfg.seed + 1 + rep), x_train, y_perm).predict(x_test), y_test))
    accs = [r["accuracy"] for r in runs]
    out["shuffled"] = {
        "accuracy": round(float(np.mean(accs)), 2),
        "accuracy_std": round(float(np.std(accs)), 2),
        "balanced_accuracy": round(float(np.mean([r["balanced_accuracy"] for r in runs])), 2),
        "runs": accs,
        "chance": 50.0,
    }
    return out


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------


def probe_model(model, fmt, data: ProbeData, cfg: Probe, name: str = "model", progress: bool = True) -> dict:
    """Features of one model on ``data`` and the classifiers' scores."""
    x_train = extract_features(
        model, fmt, data.train, batch_size=cfg.batch_size, desc=f"probe {name}: train features", progress=progress
    )
    x_test = extract_features(
        model, fmt, data.test, batch_size=cfg.batch_size, desc=f"probe {name}: test features", progress=progress
    )
    y_train, y_test = [e["label"] for e in data.train], [e["label"] for e in data.test]
    return probe_features(x_train, y_train, x_test, y_test, cfg, [e["group"] for e in data.test])


def probe_models(
    data: ProbeData, cfg: Probe, models: Mapping[str, str], *, system: str | None = None, progress: bool = True
) -> dict[str, dict]:
    """Load each model (name -> folder, ``inbol.models.load_base``) in turn and probe it; returns name ->
    result."""
    from .models import PromptFormat, load_base

    out = {}
    for name, path in models.items():
        model, processor = load_base(path, cfg.device, cfg.dtype)
        out[name] = {
            "model_path": str(path),
            **probe_model(model, PromptFormat(processor, system), data, cfg, name, progress),
        }
        del model
    return out


def text_features(train: Sequence[dict], test: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The wording control's features: binary bag of words (scikit-learn's CountVectorizer: lower case,
    words ``[a-z]+``, the training questions' vocabulary in alphabetical order) of the question text; no
    image, no model."""
    vec = CountVectorizer(binary=True, token_pattern=r"[a-z]+")
    x = vec.fit_transform([e["question"] for e in train]).toarray()
    return x, vec.transform([e["question"] for e in test]).toarray()


def probe_text_only(data: ProbeData, cfg: Probe) -> dict:
    """Table 7's wording control: the same classifiers on the question text alone.  When they reach the
    hidden-state probe's accuracy, the probe need not read anything beyond the wording."""
    x_train, x_test = text_features(data.train, data.test)
    y_train, y_test = [e["label"] for e in data.train], [e["label"] for e in data.test]
    return {
        "feature": "bag of words of the question text",
        **probe_features(x_train, y_train, x_test, y_test, cfg, [e["group"] for e in data.test]),
    }


def probe_metrics(
    data: ProbeData, results: Mapping[str, dict], cfg: Probe, controls: Mapping[str, dict] | None = None
) -> dict:
    """``metrics/probe.json``: per model the MLP (the paper's reading) and logistic-regression test accuracy
    beside the paper's Table 7, the shuffled-label control, and the class balance of both splits."""
    models = {}
    for name, r in results.items():
        paper = PAPER_ACCURACY.get(name)
        models[name] = {
            **r,
            "paper_accuracy": paper,
            "gap_to_paper": None if paper is None else round(r["mlp"]["accuracy"] - paper, 2),
        }
    return {
        "feature": "last-layer hidden state at the last prompt token",
        "max_conf": cfg.max_conf,
        "chance": 50.0,
        "units": "percent",
        "train": data.counts["train"],
        "test": data.counts["test"],
        "paper": {
            "table": 7,
            "model": "LLaVA-1.5-7B",
            "classifier": "three-layer",
            "accuracy": dict(PAPER_ACCURACY),
            "train_questions": 2000,
            "test_questions": 200,
        },
        "models": models,
        # the controls: the shuffled labels (per model, above), the question text alone, and the original
        # model (``base`` in ``models``, never trained to refuse)
        "controls": dict(controls or {}),
    }
