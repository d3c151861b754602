# One image for every Baton process. The command picks the service:
#
#   docker run baton baton run relay-gateway --host 0.0.0.0 --port 8080
#   docker run baton baton run messaging-gateway --host 0.0.0.0 --port 8081
#   docker run baton baton run agent-worker --host 0.0.0.0 --port 8082
#   docker run baton baton run handoff-dispatcher --host 0.0.0.0 --port 8083
#   docker run baton baton streams init
#
# The Twilio emulator and the other developer tools are not in this image: they are built
# from devtools/Dockerfile.
#
# There is no HEALTHCHECK here because the port depends on the service: docker-compose.yml
# and the Kubernetes manifests probe GET /healthz and GET /readyz on the right port.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with the dependencies, then Baton itself --------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/baton
ENV PATH=/opt/baton/bin:$PATH

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so this layer is rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the application (the packages listed in [tool.setuptools.packages.find]).
COPY README.m[d] ./
COPY baton ./baton
COPY libs ./libs
COPY services ./services
RUN pip install --no-deps . \
    && baton --help > /dev/null

# --- runtime: the virtualenv on a clean slim image, run as an unprivileged user ---------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="baton" \
      org.opencontainers.image.description="AI-to-human handoff for Twilio contact centers, on NATS JetStream" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin baton

COPY --from=builder /opt/baton /opt/baton

ENV PATH=/opt/baton/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
USER 10001:10001

EXPOSE 8080 8081 8082 8083

CMD ["baton", "--help"]
