"""Spark entry point of one generated stream job: ``python streaming/stream_job.py <view> --env prod [options]``.

Thin script for spark-submit or a container command; the job is generated from the feature repo's stream view of
that name by ``featurekit.streaming.jobs``. Equivalent to ``featurekit stream run <view> --env $FEATUREKIT_ENV``:
both call ``featurekit.streaming.run.run_stream_job``, and this script never imports the CLI.
"""

import sys

from featurekit.streaming.entrypoint import main

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: stream_job.py <stream view> [featurekit stream run options]")
    main(sys.argv[1], sys.argv[2:])
