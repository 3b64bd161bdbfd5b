#!/usr/bin/env python3
"""Call a finemix sidecar's Classify from Python with grpcio (Debian: python3-grpcio python3-grpc-tools).

    python3 client/python/finemix_classify.py --target localhost:8500 --model demo "a gorgeous film" "a dull film"

The message classes are generated from the repository's .proto (proto/src/main/proto/finemix/v1/classify.proto and
the google/rpc/status.proto it imports) with grpc_tools.protoc into a cache folder on first use; the call goes to
the method path /finemix.v1.Finemix/Classify. Prints one JSON object per line: text, label, label_name, scores.
Exit codes: 0 ok, 1 the server answered with an error (code and message on stderr), 2 bad usage or no protoc.
"""
import argparse
import glob
import hashlib
import importlib
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO_ROOT = os.path.join(ROOT, "proto", "src", "main", "proto")
CLASSIFY_PROTO = os.path.join("finemix", "v1", "classify.proto")


def status_proto_dir():
    """A folder holding google/rpc/status.proto: the one Maven extracted when building proto/, or $FINEMIX_PROTO_INCLUDE."""
    candidates = [os.environ.get("FINEMIX_PROTO_INCLUDE", "")]
    candidates += glob.glob(os.path.join(ROOT, "proto", "target", "protoc-dependencies", "*"))
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "google", "rpc", "status.proto")):
            return c
    sys.exit("finemix_classify: google/rpc/status.proto not found: build the project once (mvn -B -DskipTests "
             "package) or set FINEMIX_PROTO_INCLUDE to a folder holding google/rpc/status.proto")


def generated_modules():
    """Generates (once per .proto content) and imports classify_pb2."""
    try:
        from grpc_tools import protoc
        import grpc_tools
    except ImportError:
        sys.exit("finemix_classify: grpc_tools missing: apt-get install python3-grpcio python3-grpc-tools")
    include = status_proto_dir()
    with open(os.path.join(PROTO_ROOT, CLASSIFY_PROTO), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    out = os.path.join(tempfile.gettempdir(), "finemix-python-" + digest)
    if not os.path.isfile(os.path.join(out, "finemix", "v1", "classify_pb2.py")):
        os.makedirs(out, exist_ok=True)
        wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        args = ["protoc", "-I" + PROTO_ROOT, "-I" + include, "-I" + wkt, "--python_out=" + out,
                CLASSIFY_PROTO, os.path.join("google", "rpc", "status.proto")]
        if protoc.main(args) != 0:
            sys.exit("finemix_classify: protoc failed on " + CLASSIFY_PROTO)
    sys.path.insert(0, out)
    return importlib.import_module("finemix.v1.classify_pb2")


def main():
    p = argparse.ArgumentParser(description="Classify texts with a finemix sidecar (gRPC).")
    p.add_argument("--target", default="localhost:8500")
    p.add_argument("--model", required=True)
    p.add_argument("--token", default=os.environ.get("FINEMIX_TOKEN"), help="bearer token, if Classify is protected")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("texts", nargs="+")
    a = p.parse_args()
    import grpc
    pb = generated_modules()
    with grpc.insecure_channel(a.target) as channel:
        classify = channel.unary_unary("/finemix.v1.Finemix/Classify",
                                       request_serializer=pb.ClassifyRequest.SerializeToString,
                                       response_deserializer=pb.ClassifyResponse.FromString)
        metadata = [("authorization", "Bearer " + a.token)] if a.token else None
        try:
            resp = classify(pb.ClassifyRequest(model=a.model, texts=a.texts), timeout=a.timeout, metadata=metadata)
        except grpc.RpcError as e:
            print("finemix_classify: %s: %s" % (e.code().name, e.details()), file=sys.stderr)
            return 1
    for text, pred in zip(a.texts, resp.predictions):
        print(json.dumps({"text": text, "label": pred.label, "label_name": pred.label_name,
                          "scores": [round(s, 6) for s in pred.scores]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
