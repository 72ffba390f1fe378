"""Baseline models the benchmarks and tests compare the recipes against (DESIGN.md §4); no recipe ARN trains them.

They keep the recipe contract (``openpersonalize.recipes.base.Recipe``), so the evaluation protocol and the
shared contract tests drive them like any recipe. Import them with ``bench/`` on ``sys.path``
(``from baselines.ease import EASE``).
"""
