from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline

from closedloop import registry
from closedloop.evaluation import Evaluation
from closedloop.features import FeatureSpec
from closedloop.loop import PromotionPolicy, challenge_champion, decide
from closedloop.workspace import Workspace
from lifecycle_support import SCHEMA, make_frame

SPEC = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))


def _eval(auc: float, ll: float, dp: float) -> Evaluation:
    return Evaluation({"roc_auc": auc, "log_loss": ll, "demographic_parity_difference": dp})


def test_decide_checks_every_rule() -> None:
    policy = PromotionPolicy(min_improvement=0.01)
    ok, reasons = decide(_eval(0.80, 0.40, 0.10), _eval(0.82, 0.40, 0.10), policy)
    assert ok
    assert len(reasons) == 3
    assert not decide(_eval(0.80, 0.40, 0.10), _eval(0.805, 0.40, 0.10), policy)[0]
    assert not decide(_eval(0.80, 0.40, 0.10), _eval(0.90, 0.50, 0.10), policy)[0]
    worse_fairness = decide(_eval(0.80, 0.40, 0.10), _eval(0.90, 0.40, 0.20), policy)
    assert not worse_fairness[0]
    assert "fairness" in worse_fairness[1][2]


def test_a_useless_champion_is_replaced_and_the_decision_recorded(workspace: Workspace) -> None:
    train = make_frame(600)
    weak = make_pipeline(SPEC.build(), DummyClassifier(strategy="prior")).fit(train, train["y"])
    registry.register_model(
        workspace,
        "m",
        weak,
        signature=SPEC.signature(SCHEMA),
        target="y",
        classes=["no", "yes"],
        aliases=["champion"],
    )
    outcome = challenge_champion(
        workspace,
        "m",
        train=train,
        holdout=make_frame(300, seed=9),
        spec=SPEC,
        target="y",
        positive_class="yes",
        sensitive="group",
        trigger=["drift in age"],
        policy=PromotionPolicy(max_fairness_regression=1.0),
    )
    assert outcome.promoted
    assert outcome.challenger_eval.metrics["roc_auc"] > outcome.champion_eval.metrics["roc_auc"]
    assert registry.get_model_version(workspace, "m@champion").id == "m/2"
    stored = workspace.metadata.decisions.list("m")
    assert [d.decision for d in stored] == ["promote"]
    assert stored[0].detail["trigger"] == ["drift in age"]
    assert stored[0].reasons == outcome.reasons
    promotion = registry.alias_history(workspace, "m", "champion")[0]
    assert (promotion.from_version, promotion.to_version) == (1, 2)
    assert promotion.reason.startswith("loop promoted m/2 over m/1: ")
    assert outcome.reasons[0] in promotion.reason


def test_a_better_champion_is_kept(workspace: Workspace) -> None:
    train = make_frame(600)
    outcome_first = None
    strong = make_pipeline(SPEC.build(), DummyClassifier(strategy="prior"))
    registry.register_model(
        workspace,
        "m",
        strong.fit(train, train["y"]),
        signature=SPEC.signature(SCHEMA),
        target="y",
        classes=["no", "yes"],
        aliases=["champion"],
    )
    # demand an impossible improvement: the challenger must be kept out
    outcome_first = challenge_champion(
        workspace,
        "m",
        train=train,
        holdout=make_frame(300, seed=9),
        spec=SPEC,
        target="y",
        positive_class="yes",
        policy=PromotionPolicy(min_improvement=1.0),
        candidates=["logistic_regression"],
    )
    assert not outcome_first.promoted
    assert outcome_first.decision.decision == "keep"
    assert registry.get_model_version(workspace, "m@champion").id == "m/1"
    assert registry.get_model_version(workspace, "m@challenger").id == "m/2"
