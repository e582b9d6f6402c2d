# Zīme on a GPU server. Build: docker build -t zime .   Run: see compose.yaml and README.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/models \
    ZIME_DEVICE=cuda

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 zime \
    && mkdir -p /models /data /config \
    && chown zime:zime /models /data /config

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
# The same torch pin as the Makefile: on Linux x86_64 PyPI serves its CUDA build. diffusers,
# transformers and ctranslate2 come pinned from pyproject.toml. ZIME_DEVICE=cuda: a broken
# GPU stops the container with a clear error instead of drawing on the CPU for minutes a step.
RUN python3.11 -m venv /venv \
    && /venv/bin/pip install "torch==2.13.0" \
    && /venv/bin/pip install .

USER 10001
VOLUME ["/models", "/data", "/config"]
EXPOSE 9108
# Needs [metrics] enabled = true, host = "0.0.0.0" (as in the compose example's config).
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["/venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
ENTRYPOINT ["/venv/bin/python", "-m", "bot", "--config", "/config/config.toml"]
