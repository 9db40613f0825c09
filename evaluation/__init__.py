"""Judging a trained policy (or the nominal gait) on C MuJoCo: numbers, tables and plots.

* ``evaluate.py`` — ``python -m evaluation.evaluate``: the suite/flat/rough evaluation and the
  command tests' entry (``--mode commands|push|stand|all``);
* ``command_grid.py``, ``push_recovery.py``, ``stand_still.py`` — one command test each;
* ``safety_report.py`` — the pre-hardware safety report (``python -m evaluation.safety_report``);
* ``targets.py``, ``shipped_report.py`` — the targets table and the shipped-policy tables;
* ``runner.py`` — the one episode runner of every command above: plan episodes, run them batched
  on the C-MuJoCo vector env (``--physics-threads``), regroup them;
* ``suite_evaluation.py``, ``suite_tables.py`` — the suite evaluation behind ``evaluate`` and its tables;
* ``safety_measures.py``, ``safety_markdown.py``, ``safety_criteria.py`` — what the safety report
  measures, its Markdown, its criteria;
* ``episode.py``, ``episode_metrics.py``, ``episode_records.py`` — run, measure and record episodes;
* ``nominal.py`` — the nominal Bézier trot on C MuJoCo (also ``python -m evaluation.nominal``).

Nothing here trains; it imports the env layers and the export loaders, never ``train.brax_ppo``.
"""
