"""A stand-in for the Kubeflow Pipelines API server (REST, v2beta1), for ``--endpoint`` tests.

A test double (no cluster exists here), but one that refuses what the real
server refuses (``backend/src/apiserver``): an uploaded spec whose schema
is not 2.1.0, without a valid name or root (``template/v2_template.go``);
a second pipeline of the same name (409, ``pipeline_upload_server.go``); a
version name used twice under one pipeline; a run whose parameters the
spec does not declare, lacks a required one, or has one of the wrong type
(``validatePipelineJobInputs``); a recurring run whose cron robfig/cron
v1 cannot parse (5 or 6 fields, or a descriptor) or whose max concurrency
is outside 1-10 (``recurring_run_server.go``). It serves the calls
``kfp.Client`` makes to upload a pipeline or version, find pipelines and
experiments, create an experiment, a run and a recurring run, and records
everything it accepted.
"""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import re
import threading
import urllib.parse
import uuid
from typing import Dict, List, Optional, Tuple

import yaml

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TYPES = {"NUMBER_DOUBLE": (int, float), "NUMBER_INTEGER": (int, float), "STRING": (str,),
          "BOOLEAN": (bool,), "LIST": (list,), "STRUCT": (dict,)}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def pipeline_spec_of(text: str) -> dict:
    """NewV2SpecTemplate: the one pipeline spec in the file, checked as the server checks it."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as err:
        raise ApiError(400, f"unable to decode yaml document: {err}") from None
    specs = [d for d in documents if isinstance(d, dict) and d.get("pipelineInfo", {}).get("name")
             and d.get("root") is not None]
    if len(specs) > 1:
        raise ApiError(400, "multiple pipeline specs provided")
    if not specs:
        raise ApiError(400, "no pipeline spec is provided")
    spec = specs[0]
    if spec.get("schemaVersion") != "2.1.0":
        raise ApiError(400, "KFP only supports schema version 2.1.0, but the pipeline spec has "
                       f"version {spec.get('schemaVersion', '')}")
    if not _NAME.match(spec["pipelineInfo"]["name"]):
        raise ApiError(400, "invalid v2 pipeline spec: name should consist of lower case "
                       "alphanumeric characters, '-' or '.', and must start and end with an "
                       "alphanumeric character")
    return spec


def check_run_parameters(spec: dict, given: Dict) -> None:
    """validatePipelineJobInputs."""
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, param in declared.items():
        if name not in given:
            if not param.get("isOptional") and "defaultValue" not in param:
                raise ApiError(400, f"parameter {name} is not optional, yet has neither default "
                               "value nor user provided value")
            continue
        kind = param.get("parameterType", "")
        value = given[name]
        if kind not in _TYPES or not isinstance(value, _TYPES[kind]) or (
                isinstance(value, bool) and kind != "BOOLEAN"):
            raise ApiError(400, f"input parameter {name} requires type {kind}, but the "
                           "parameter value is of another type")
    extra = sorted(set(given) - set(declared))
    if extra:
        raise ApiError(400, f"parameter(s) provided are not required by pipeline: "
                       f"{', '.join(extra)}")


def _robfig_parses(cron: str) -> bool:
    """The shape robfig/cron v1's ``Parse`` accepts: a descriptor, or 5 or 6 fields
    (seconds first; the day of week may be left out)."""
    text = cron.strip()
    if text.startswith("@"):
        return bool(re.fullmatch(r"@(yearly|annually|monthly|weekly|daily|midnight|hourly"
                                 r"|every \S+)", text))
    fields = text.split()
    return len(fields) in (5, 6) and all(
        re.fullmatch(r"[0-9A-Za-z*?,/-]+", f) for f in fields)


class KfpApiServer:
    """The API on 127.0.0.1 in a thread: ``with KfpApiServer() as api: api.url``."""

    def __init__(self):
        self.pipelines: Dict[str, dict] = {}
        self.versions: Dict[str, List[dict]] = {}
        self.experiments: Dict[str, dict] = {}
        self.runs: List[dict] = []
        self.recurring_runs: List[dict] = []
        self.refusals: List[Tuple[str, str, int, str]] = []
        self._lock = threading.Lock()
        self._server: Optional[http.server.ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> "KfpApiServer":
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                api._handle(self)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- routing ------------------------------------------------------------------
    def _handle(self, request: http.server.BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlparse(request.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        route = (request.command, url.path)
        try:
            with self._lock:
                answer = self._route(route, query, body, request.headers)
            status, payload = 200, answer
        except ApiError as err:
            self.refusals.append((request.command, url.path, err.status, str(err)))
            status, payload = err.status, {"error_message": str(err), "error_details": str(err)}
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _route(self, route, query, body, headers) -> dict:
        method, path = route
        base = "/apis/v2beta1"
        if method == "GET" and path == f"{base}/healthz":
            return {"multi_user": False}
        if method == "POST" and path == f"{base}/pipelines/upload":
            return self._upload(query, self._file(body, headers))
        if method == "POST" and path == f"{base}/pipelines/upload_version":
            return self._upload_version(query, self._file(body, headers))
        if method == "GET" and path == f"{base}/pipelines":
            found = [p for p in self.pipelines.values()
                     if self._matches(p, query.get("filter"))]
            return {"pipelines": found, "total_size": len(found)} if found else {}
        m = re.fullmatch(rf"{base}/pipelines/([^/]+)/versions", path)
        if method == "GET" and m:
            versions = self.versions.get(m.group(1), [])
            return {"pipeline_versions": versions, "total_size": len(versions)}
        if method == "GET" and path == f"{base}/experiments":
            found = [e for e in self.experiments.values()
                     if self._matches(e, query.get("filter"))]
            return {"experiments": found, "total_size": len(found)} if found else {}
        if method == "POST" and path == f"{base}/experiments":
            return self._create_experiment(json.loads(body or b"{}"))
        if method == "POST" and path == f"{base}/runs":
            return self._create_run(json.loads(body or b"{}"))
        if method == "POST" and path == f"{base}/recurringruns":
            return self._create_recurring_run(json.loads(body or b"{}"))
        raise ApiError(404, f"{method} {path}: not served by this stand-in")

    @staticmethod
    def _file(body: bytes, headers) -> Tuple[str, str]:
        head = f"Content-Type: {headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts() if message.is_multipart() else ():
            if part.get_param("name", header="content-disposition") == "uploadfile":
                return part.get_filename() or "pipeline.yaml", part.get_payload(
                    decode=True).decode()
        raise ApiError(400, "Failed to read pipeline from file")

    @staticmethod
    def _matches(item: dict, raw_filter: Optional[str]) -> bool:
        if not raw_filter:
            return True
        for predicate in json.loads(raw_filter).get("predicates", []):
            if item.get(predicate["key"]) != predicate.get("string_value",
                                                            predicate.get("stringValue")):
                return False
        return True

    # --- resources ------------------------------------------------------------------
    def _upload(self, query, upload) -> dict:
        filename, text = upload
        spec = pipeline_spec_of(text)
        name = query.get("name") or query.get("display_name") or filename.rsplit(".", 1)[0]
        if any(p["display_name"] == name for p in self.pipelines.values()):
            raise ApiError(409, "Failed to create a pipeline and a pipeline version")
        pipeline = {"pipeline_id": str(uuid.uuid4()), "display_name": name, "name": name}
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        self.versions[pipeline["pipeline_id"]] = [self._version(pipeline["pipeline_id"], name,
                                                                spec)]
        return pipeline

    def _upload_version(self, query, upload) -> dict:
        _, text = upload
        pipeline_id = query.get("pipelineid", "")
        if pipeline_id not in self.pipelines:
            raise ApiError(400, "Failed to create a pipeline version")
        spec = pipeline_spec_of(text)
        name = query.get("name", "")
        if not name or any(v["display_name"] == name for v in self.versions[pipeline_id]):
            raise ApiError(409, "Failed to create a pipeline version")
        version = self._version(pipeline_id, name, spec)
        self.versions[pipeline_id].append(version)
        return version

    @staticmethod
    def _version(pipeline_id: str, name: str, spec: dict) -> dict:
        return {"pipeline_id": pipeline_id, "pipeline_version_id": str(uuid.uuid4()),
                "display_name": name, "name": name, "pipeline_spec": spec}

    def _create_experiment(self, body: dict) -> dict:
        name = body.get("display_name", "")
        if not name or any(e["display_name"] == name for e in self.experiments.values()):
            raise ApiError(409, f"experiment {name!r} exists or has no name")
        experiment = {"experiment_id": str(uuid.uuid4()), "display_name": name}
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def _create_recurring_run(self, body: dict) -> dict:
        concurrency = int(body.get("max_concurrency") or 0)
        if not 1 <= concurrency <= 10:
            raise ApiError(400, "Max concurrency of a recurring run must be at least 1 and at "
                           f"most 10. Received {concurrency}")
        cron = ((body.get("trigger") or {}).get("cron_schedule") or {}).get("cron")
        if cron is None or not _robfig_parses(cron):
            raise ApiError(400, "Schedule cron is not a supported format"
                           "(https://godoc.org/github.com/robfig/cron).")
        run = self._create_run(body)
        recurring = {"recurring_run_id": str(uuid.uuid4()), "display_name": run["display_name"],
                     "experiment_id": run["experiment_id"], "trigger": body["trigger"],
                     "max_concurrency": str(concurrency), "no_catchup": body.get("no_catchup"),
                     "mode": body.get("mode"), "pipeline_version_reference":
                         run["pipeline_version_reference"],
                     "runtime_config": run["runtime_config"], "status": "ENABLED"}
        self.runs.remove(run)  # a recurring run starts runs on its schedule, not now
        self.recurring_runs.append(recurring)
        return recurring

    def _create_run(self, body: dict) -> dict:
        reference = body.get("pipeline_version_reference") or {}
        spec = body.get("pipeline_spec")
        if spec is None:
            versions = self.versions.get(reference.get("pipeline_id", ""), [])
            matching = [v for v in versions
                        if v["pipeline_version_id"] == reference.get("pipeline_version_id")]
            if not matching:
                raise ApiError(404, "pipeline version not found")
            spec = matching[0]["pipeline_spec"]
        else:
            spec = pipeline_spec_of(json.dumps(spec))
        if body.get("experiment_id") not in self.experiments:
            raise ApiError(404, "experiment not found")
        config = body.get("runtime_config") or {}
        check_run_parameters(spec, config.get("parameters") or {})
        run = {"run_id": str(uuid.uuid4()), "display_name": body.get("display_name", ""),
               "experiment_id": body["experiment_id"], "pipeline_version_reference": reference,
               "runtime_config": config, "state": "PENDING"}
        self.runs.append(run)
        return run
