"""Evaluation: the lmms-eval plugin (``--model ov_vlm``), benchmark suites, result files and reports.

- `lmms_model.OVVLMEval`: the lmms-eval model (registered through the ``lmms_eval.models`` entry point).
- `suite`: typed suites (``eval/suites/*.yaml``) and published numbers (``eval/published.json``).
- `runner.run_eval`: ``ov-vlm eval``, stock lmms-eval in a subprocess, then ``result.json`` + report + chart.
- `local_tasks` / `task_utils`: offline lmms-eval tasks over LLaVA-format QA data.
Importing this package is light; lmms-eval and torch load only with the modules that need them.
"""
