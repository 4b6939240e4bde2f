#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A CRI client for the tests, in the role of a kubelet: one call per run.

    cri.py SOCKET METHOD [REQUEST-JSON [FIELD]]

sends METHOD (RunPodSandbox, ExecSync, ...) of runtime.v1.RuntimeService to the CRI socket
with the request given as JSON (protobuf's JSON mapping of runtime.proto), and prints the
response as JSON, or only its FIELD (a dotted path such as status.network.ip; bytes print as
text, enums as their names). For ExecSync, FIELD `--as-process` behaves like the command ran
here: its stdout and stderr on ours, its exit code ours (as `crictl exec` does). A gRPC error
prints its status and message on stderr and exits 1. The
messages come from runtime.proto, compiled by protoc into CRI_PYTHON_OUT (a directory).
"""
import json
import os
import sys

sys.path.insert(0, os.environ["CRI_PYTHON_OUT"])

import grpc  # noqa: E402  (Debian's python3-grpcio)
from google.protobuf import json_format  # noqa: E402

import runtime_pb2  # noqa: E402

SERVICE = "runtime.v1.RuntimeService"


def main():
    if len(sys.argv) not in (3, 4, 5):
        sys.exit(__doc__)
    socket, method = sys.argv[1], sys.argv[2]
    descriptor = runtime_pb2.DESCRIPTOR.services_by_name["RuntimeService"].methods_by_name.get(method)
    if descriptor is None:
        sys.exit(f"cri.py: {method} is not a RuntimeService method in runtime.proto")
    request_type = getattr(runtime_pb2, descriptor.input_type.name)
    response_type = getattr(runtime_pb2, descriptor.output_type.name)
    request = json_format.Parse(sys.argv[3] if len(sys.argv) >= 4 else "{}", request_type())
    with grpc.insecure_channel("unix://" + socket) as channel:
        call = channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString,
        )
        try:
            response = call(request, timeout=120)
        except grpc.RpcError as error:
            print(f"{error.code().name}: {error.details()}", file=sys.stderr)
            sys.exit(1)
    if len(sys.argv) == 5 and sys.argv[4] == "--as-process" and method == "ExecSync":
        sys.stdout.buffer.write(response.stdout)
        sys.stderr.buffer.write(response.stderr)
        sys.exit(response.exit_code)
    if len(sys.argv) == 5:
        print(field(response, sys.argv[4]))
    else:
        print(json.dumps(json_format.MessageToDict(response, preserving_proto_field_name=True)))


def field(message, path):
    """The value at a dotted path of a message, as text."""
    value = message
    for name in path.split("."):
        descriptor = value.DESCRIPTOR.fields_by_name[name]
        value = getattr(value, name)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if descriptor.enum_type is not None:
        return descriptor.enum_type.values_by_number[value].name
    return value


if __name__ == "__main__":
    main()
