#!/usr/bin/env sh
# Regenerates descriptor-set.binpb: the compiled form of these protos (with their imports) that
# the gRPC proxy serves over server reflection, so reflection clients get exactly what protoc
# makes of the sources. Run it after editing any .proto here; test/unit/grpc-descriptors.test.ts
# fails while the two disagree. Needs grpcio-tools (Debian: python3-grpc-tools).
set -eu
cd "$(dirname "$0")"
python=python3
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c "import grpc_tools" 2>/dev/null; then python=$candidate; break; fi
done
wkt=$("$python" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
"$python" -m grpc_tools.protoc -I. -I"$wkt" --include_imports --include_source_info \
  --descriptor_set_out=descriptor-set.binpb \
  sluice/v1/ingest.proto sluice/v1/query.proto grpc/health/v1/health.proto \
  grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto
