#!/usr/bin/env bash
# Regenerates the Go code of the plugin protocol (sdk/proto/pluginv1) with
# pinned generators: Debian 12's protoc (3.21.12), protoc-gen-go v1.36.12 and
# protoc-gen-go-grpc v1.6.2, installed here when missing. The generated files
# are committed; CI never regenerates them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:$(go env GOPATH)/bin
command -v protoc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler; }
protoc-gen-go --version 2>/dev/null | grep -q v1.36.12 || GOFLAGS= GOWORK=off go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
protoc-gen-go-grpc --version 2>/dev/null | grep -q 1.6.2 || GOFLAGS= GOWORK=off go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
cd sdk/proto/pluginv1
protoc -I. --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
