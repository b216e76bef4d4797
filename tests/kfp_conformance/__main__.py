"""python -m tests.kfp_conformance --backend kfp|vertex SPEC --pipeline-root DIR --state DIR"""

from __future__ import annotations

import argparse
import json
import sys

from tests.kfp_conformance.common import ConformanceError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.kfp_conformance",
                                description="run a compiled spec as a backend would")
    p.add_argument("spec", help="the compiled pipeline file")
    p.add_argument("--backend", choices=("kfp", "vertex"), default="kfp")
    p.add_argument("--pipeline-root", required=True, help="a local folder")
    p.add_argument("--state", required=True,
                   help="the backend's state (ML Metadata, cache) kept between runs")
    p.add_argument("--param", action="append", default=[], metavar="NAME=JSON",
                   help="a runtime parameter (repeatable)")
    p.add_argument("--kfp-version", choices=("2.0", "2.17"), default="2.17")
    p.add_argument("--no-publish-logs", action="store_true")
    p.add_argument("--warm", action="store_true",
                   help="start the tasks' python commands from a warm interpreter (faster)")
    args = p.parse_args(argv)
    params = {}
    for item in args.param:
        name, _, raw = item.partition("=")
        try:
            params[name] = json.loads(raw)
        except ValueError:
            params[name] = raw
    try:
        if args.backend == "kfp":
            from tests.kfp_conformance.kfp import Kfp

            backend = Kfp(args.state, version=args.kfp_version,
                          publish_logs=not args.no_publish_logs, warm=args.warm)
        else:
            from tests.kfp_conformance.vertex import Vertex

            backend = Vertex(args.state, warm=args.warm)
        with backend:
            result = backend.run(args.spec, args.pipeline_root, params)
    except ConformanceError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2
    print(f"{result.backend} run {result.run_id}")
    print(result.summary())
    if not result.ok:
        print(result.failure(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
