"""Rewrite databases: registration, tags, positions and queries."""
import pytest

import symgraph.tensor as T
from symgraph.graph.fgraph import FunctionGraph
from symgraph.rewriting.core import EquilibriumGraphRewriter, graph_rewriter, node_rewriter
from symgraph.rewriting.db import EquilibriumDB, RewriteQuery, SequenceDB, generation


def named_pass(name, log):
    @graph_rewriter
    def run(fgraph):
        log.append(name)

    run.name = name
    return run


def names(rewriter):
    return [r.name for r in rewriter.rewriters]


def test_sequence_runs_in_position_order_not_registration_order():
    log, db = [], SequenceDB("seq")
    db.register("late", named_pass("late", log), "fast_run", position=10)
    db.register("early", named_pass("early", log), "fast_run", position=1)
    db.register("middle", named_pass("middle", log), "fast_run", position=5)
    db.query(RewriteQuery(include=["fast_run"])).rewrite(FunctionGraph([], []))
    assert log == ["early", "middle", "late"]


def test_include_require_exclude():
    log, db = [], SequenceDB("seq")
    db.register("a", named_pass("a", log), "fast_run", "cheap", position=1)
    db.register("b", named_pass("b", log), "fast_run", position=2)
    db.register("c", named_pass("c", log), "fast_compile", "cheap", position=3)
    assert names(db.query(RewriteQuery(include=["fast_run"]))) == ["a", "b"]
    assert names(db.query(RewriteQuery(include=["fast_run", "fast_compile"]))) == ["a", "b", "c"]
    assert names(db.query(RewriteQuery(include=["fast_run"], require=["cheap"]))) == ["a"]
    assert names(db.query(RewriteQuery(include=["fast_run"], exclude=["a"]))) == ["b"]
    assert names(db.query(RewriteQuery(include=["c"]))) == ["c"]  # a name is a tag
    assert names(db.query(RewriteQuery())) == []


def test_nested_databases_use_the_same_query():
    outer, inner = SequenceDB("outer"), EquilibriumDB("inner")

    @node_rewriter([T.exp])
    def r_fast(fgraph, node):
        return None

    @node_rewriter([T.log])
    def r_slow(fgraph, node):
        return None

    inner.register("r_fast", r_fast, "fast_run")
    inner.register("r_slow", r_slow, "slow")
    outer.register("inner", inner, "fast_run", position=1)
    built = outer.query(RewriteQuery(include=["fast_run"]))
    (equilibrium,) = built.rewriters
    assert isinstance(equilibrium, EquilibriumGraphRewriter)
    assert [r.name for r in equilibrium.node_rewriters] == ["r_fast"]
    # naming an inner rewrite enters the database even when its tags do not match
    (only_slow,) = outer.query(RewriteQuery(include=["r_slow"])).rewriters
    assert [r.name for r in only_slow.node_rewriters] == ["r_slow"]
    assert outer.query(RewriteQuery(include=["fast_run"], exclude=["inner"])).rewriters == []


def test_equilibrium_db_separates_global_and_final_rewriters():
    log, db = [], EquilibriumDB("eq")
    db.register("start", named_pass("start", log), "fast_run")
    db.register("end", named_pass("end", log), "fast_run", final=True)
    built = db.query(RewriteQuery(include=["fast_run"]))
    assert [r.name for r in built.global_rewriters] == ["start"]
    assert [r.name for r in built.final_rewriters] == ["end"]
    built.rewrite(FunctionGraph([], []))
    assert log == ["start", "end"]


def test_registration_errors_and_generation():
    db = SequenceDB("seq")
    before = generation()
    db.register("a", named_pass("a", []), "fast_run")
    assert generation() > before
    with pytest.raises(ValueError, match="already registered"):
        db.register("a", named_pass("a", []), "fast_run")
    with pytest.raises(TypeError, match="not a rewriter"):
        db.register("b", lambda fgraph: None)

    @node_rewriter(None)
    def local(fgraph, node):
        return None

    with pytest.raises(TypeError, match="EquilibriumDB"):
        db.register("local", local)
    with pytest.raises(TypeError, match="holds rewriters"):
        EquilibriumDB("eq").register("nested", SequenceDB("x"))


def test_query_builders_return_new_queries():
    q = RewriteQuery(include=["fast_run"])
    assert q.including("x").include == {"fast_run", "x"}
    assert q.excluding("y").exclude == {"y"}
    assert q.requiring("z").require == {"z"}
    assert q.include == {"fast_run"} and q == RewriteQuery(include=["fast_run"])
