# syntax=docker/dockerfile:1
# gradcam-server: the service with its bundled models, one uvicorn worker per container
# (each worker would load every model: scale with more containers, not more workers).
#
#   docker build -t gradcam-server:cpu .
#   docker build -t gradcam-server:gpu --build-arg VARIANT=gpu .   # tensorflow[and-cuda]
#   docker build -t gradcam-server:ray --build-arg EXTRAS=ray .    # for Ray Serve / KubeRay
#   docker run -p 8000:8000 gradcam-server:cpu
#   docker run -p 8000:8000 -v "$PWD/my-models:/srv/gradcam/models:ro" gradcam-server:cpu
#   docker run --gpus all -p 8000:8000 gradcam-server:gpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG VARIANT=cpu
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# A numeric user, so Kubernetes' runAsNonRoot can verify it.
RUN useradd --no-log-init --create-home --uid 10001 --user-group gradcam
WORKDIR /srv/gradcam

# Dependency layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml deploy/docker/requirements.py ./
RUN python requirements.py --variant "${VARIANT}" --extras "${EXTRAS}" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt requirements.py

# Code layer: the same install command as the README's.
COPY README.md ./
COPY app ./app
RUN pip install . && rm -rf build ./*.egg-info

# The bundled models; serve your own by mounting a folder over this path.
COPY models ./models
COPY deploy/docker/healthcheck.py ./

USER 10001:10001
ENV GRADCAM_HOST=0.0.0.0 \
    GRADCAM_PORT=8000 \
    GRADCAM_MODELS_DIR=/srv/gradcam/models
EXPOSE 8000
# Healthy once every model is loaded and warmed (GET /v2/health/ready answers 200).
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "/srv/gradcam/healthcheck.py"]
# An entrypoint, not a CMD: a container's args (KServe's custom explainer passes
# --model_name, --predictor_host, --http_port) are the service's arguments (app/kserve.py).
ENTRYPOINT ["python", "-m", "app"]
