# Zīme on a GPU server (first version; see README "Run on a GPU server").
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HOME=/models
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 zime
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
RUN python3.11 -m venv /venv \
    && /venv/bin/pip install torch==2.13.0 \
    && /venv/bin/pip install .

USER zime
VOLUME ["/models", "/data", "/config"]
ENTRYPOINT ["/venv/bin/python", "-m", "bot", "--config", "/config/config.toml"]
