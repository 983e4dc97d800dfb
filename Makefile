# lsie — build, demo, test. See README.md.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Model plugins find their files here (scripts/fetch-models.sh fills it).
export LSIE_PLUGIN_MODEL_DIR ?= $(CURDIR)/var/models
PLUGINS := $(filter-out internal,$(notdir $(wildcard plugins/*)))
# Python plugins (sdk/python) run on Debian's interpreter, where
# scripts/setup.sh installs python3-grpcio, -numpy, -torch.
PYTHON ?= /usr/bin/python3
PY_EXAMPLES := $(notdir $(wildcard examples/python-*))

# Packages with concurrency run under the race detector; end-to-end ones
# (real GStreamer pipelines and plugin processes) run without it, serially.
# Every host package but capture (GStreamer pipelines) runs under -race.
# The repository is a workspace (go.work): the host module (.), the SDK's
# modules and the examples; ./... names the host module's packages alone.
SDK_PKGS := ./shm/... ./shm/cuda/... ./sdk/... ./sdk/cudaframe/...
EXAMPLE_PKGS := ./examples/minimal/... ./examples/brightness/... ./examples/gpustat/...
RACE_PKGS := $(SDK_PKGS) $(filter-out %/host/capture %/host/capture/internal/rtsptest,$(shell $(GO) list ./host/...))
E2E_PKGS := ./host/capture/... ./internal/... ./plugins/... ./cmd/...

.PHONY: all setup build demo test lint unit e2e bench proto clean sdk-dist sdk-check tidy python-test

all: build

setup:
	bash scripts/setup.sh

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/lsie-host ./cmd/lsie-host
	@mkdir -p bin/plugins
	@for p in $(PLUGINS); do $(GO) build -o bin/plugins/$$p ./plugins/$$p || exit 1; done
	@mkdir -p bin/examples
	$(GO) build -o bin/examples/minimal ./examples/minimal
	@for e in $(PY_EXAMPLES); do $(PYTHON) sdk/python/build.py plugin examples/$$e/plugin.py bin/examples/$$e || exit 1; done

demo: setup build
	bin/lsie-host --plugins bin/plugins --config configs/demo.hcl

test: setup build lint cuda-check unit e2e sdk-check

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./... $(SDK_PKGS) $(EXAMPLE_PKGS)
	staticcheck ./... $(SDK_PKGS) $(EXAMPLE_PKGS)

unit: python-test
	$(GO) test -race -count=1 $(RACE_PKGS)

# The Python SDK's unit tests (its stubs generated first); the Python
# plugins run through the host in e2e (cmd/lsie-host/python_test.go).
python-test:
	$(PYTHON) sdk/python/build.py gen
	cd sdk/python && $(PYTHON) -m unittest discover -s tests -t .

e2e:
	$(GO) test -p 1 -count=1 -timeout 20m $(E2E_PKGS)
	$(GO) test -count=1 ./examples/brightness/...

# The SDK's modules at sdk/VERSION in the module-proxy layout (var/goproxy),
# with what a CPU plugin needs beside them (docs/PLUGIN_SDK.md "Depending on
# the SDK"); sdk-check builds examples/brightness from that alone.
sdk-dist:
	$(GO) run ./cmd/sdk-dist -out var/goproxy

sdk-check: sdk-dist
	bash scripts/sdk-proxy-check.sh

# Tidies every module of the workspace (go mod tidy ignores go.work).
tidy:
	bash scripts/tidy.sh

bench: build
	$(GO) run ./cmd/handoff-bench -plugin bin/examples/minimal
	$(GO) run ./cmd/handoff-bench -plugin bin/examples/python-minimal
	$(GO) run ./cmd/handoff-bench -plugin bin/plugins/visual
	$(GO) run ./cmd/capture-bench
	$(GO) run ./cmd/streams-bench
	$(GO) test -run XXX -bench . -count 3 ./plugins/acoustic/ ./plugins/acoustic/dsp/
	$(GO) test -run XXX -bench . ./plugins/semantic/... ./plugins/transcription/whisper/ ./plugins/internal/vad/
	bash scripts/asr-testset.sh
	$(GO) run ./cmd/asr-bench -realtime
	$(GO) test -run XXX -bench PluginRecovery -benchtime 1x ./cmd/lsie-host/
	$(GO) test -run XXX -bench . ./host/telemetry/ ./host/events/
	$(GO) test -run XXX -bench PostTelemetry -benchtime 100x ./host/api/
	$(GO) test -run XXX -bench FrameWrite1080p -count 3 ./host/

proto:
	bash scripts/proto.sh

clean:
	rm -rf bin var/lsie.db*

# Compile check of the CUDA build (build tag cuda) without a GPU: headers and
# link stubs from scripts/fetch-cuda.sh; nothing built here can run here
# (docs/CUDA.md: copy bin/cuda/ to a GPU machine).
CUDA_ENV := CGO_CFLAGS=-I$(CURDIR)/var/cuda/include CGO_LDFLAGS=-L$(CURDIR)/var/cuda/lib
.PHONY: cuda-check
cuda-check:
	bash scripts/fetch-cuda.sh
	$(CUDA_ENV) $(GO) vet -tags cuda ./... $(SDK_PKGS) $(EXAMPLE_PKGS)
	$(CUDA_ENV) staticcheck -tags cuda $(SDK_PKGS) ./host/... ./cmd/cuda-bench/ ./cmd/lsie-host/
	@mkdir -p bin/cuda
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/cuda/cuda-bench ./cmd/cuda-bench
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/cuda/lsie-host ./cmd/lsie-host
	bash scripts/check-cuda-nodriver.sh bin/cuda/lsie-host
	$(CUDA_ENV) $(GO) test -tags cuda -c -o bin/cuda/shm-cuda.test ./shm/cuda
	$(CUDA_ENV) $(GO) test -tags cuda -c -o bin/cuda/host-cuda.test ./host
	@mkdir -p bin/cuda/plugins
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/cuda/plugins/tensor64 ./host/testdata/tensorplugin
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/cuda/gpustat ./examples/gpustat
	cp bin/cuda/gpustat bin/cuda/plugins/gpustat
	cp -P var/cuda/lib/libnvrtc.so.11.2 var/cuda/lib/libnvrtc-builtins.so.11.8 bin/cuda/

# var/cuda-pack.tar.xz: bin/cuda with stripped binaries, small enough (under
# 64 MiB) to carry to a GPU machine that has no Go (docs/CUDA.md).
.PHONY: cuda-pack
cuda-pack: cuda-check
	rm -rf var/cuda-pack && mkdir -p var/cuda-pack/plugins
	$(CUDA_ENV) $(GO) build -tags cuda -ldflags "-s -w" -o var/cuda-pack/lsie-host ./cmd/lsie-host
	$(CUDA_ENV) $(GO) build -tags cuda -ldflags "-s -w" -o var/cuda-pack/cuda-bench ./cmd/cuda-bench
	$(CUDA_ENV) $(GO) test -tags cuda -ldflags "-s -w" -c -o var/cuda-pack/shm-cuda.test ./shm/cuda
	$(CUDA_ENV) $(GO) test -tags cuda -ldflags "-s -w" -c -o var/cuda-pack/host-cuda.test ./host
	$(CUDA_ENV) $(GO) build -tags cuda -ldflags "-s -w" -o var/cuda-pack/plugins/tensor64 ./host/testdata/tensorplugin
	$(CUDA_ENV) $(GO) build -tags cuda -ldflags "-s -w" -o var/cuda-pack/plugins/gpustat ./examples/gpustat
	cp -P var/cuda/lib/libnvrtc.so.11.2 var/cuda/lib/libnvrtc-builtins.so.11.8 configs/cuda.hcl var/cuda-pack/
	tar -C var -cJf var/cuda-pack.tar.xz cuda-pack
	@ls -l var/cuda-pack.tar.xz
