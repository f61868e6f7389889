"""The thin Spark entry point (``streaming/stream_job.py``) runs a job through ``featurekit.streaming``, not the CLI."""

from __future__ import annotations

import subprocess
import sys

from featurekit.config.loader import project_root
from featurekit.streaming.entrypoint import parser


def test_the_entry_point_takes_the_options_of_stream_run() -> None:
    args = parser("v").parse_args(["--env", "prod", "--available-now", "--max-offsets-per-trigger", "5", "-v"])
    assert (args.env, args.available_now, args.max_offsets_per_trigger, args.verbose) == ("prod", True, 5, True)
    assert (args.starting_offsets, args.create_topics, args.metrics_port) == ("earliest", False, None)


def test_an_unknown_view_is_one_error_line_and_the_cli_is_never_imported() -> None:
    script = project_root() / "streaming" / "stream_job.py"
    probe = (
        "import runpy, sys; sys.argv = [sys.argv[1], 'no_such_view', '--env', 'local']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "finally:\n    print('cli imported:', any(m.startswith('featurekit.cli') for m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "error: unknown stream job 'no_such_view'; the feature repo declares:" in done.stderr
    assert "user_balance_live" in done.stderr and "Traceback" not in done.stderr
    assert "cli imported: False" in done.stdout
