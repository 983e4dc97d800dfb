# Multi-stage build on Debian 12 (bookworm). Kept in step by reading: no
# Docker engine runs on our build machines (see README).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY scripts/ scripts/
# setup.sh installs the same apt packages CI uses (and makes the demo clip).
COPY . .
RUN bash scripts/setup.sh && make build

FROM debian:12-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
      gstreamer1.0-plugins-ugly gstreamer1.0-libav ca-certificates \
      libpocketsphinx3 pocketsphinx-en-us wordnet-base \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /lsie
COPY --from=build /src/bin/ bin/
COPY --from=build /src/configs/ configs/
COPY --from=build /src/var/media/ var/media/
# Model files fetched by scripts/fetch-models.sh (never in the repository).
COPY --from=build /src/var/models/ var/models/
ENV LSIE_PLUGIN_MODEL_DIR=/lsie/var/models
EXPOSE 8080
# The demo config listens on loopback; mount your own config for real use,
# with api { listen = "0.0.0.0:8080" }.
ENTRYPOINT ["bin/lsie-host", "--plugins", "bin/plugins"]
CMD ["--config", "configs/demo.hcl"]
