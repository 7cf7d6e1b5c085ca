# Switchyard container image: the tree `cmake --install` lays out (tested by e2e.install),
# built in one stage and copied, stripped, into a runtime-only Debian image.
#   docker build -t switchyard .
#   docker run -p 8080:8080 -v switchyard-state:/var/lib/switchyard switchyard
# Own pipelines: mount a directory and point SWITCHYARD_PIPELINES_DIR at it,
#   -v $PWD/pipelines:/etc/switchyard/pipelines:ro -e SWITCHYARD_PIPELINES_DIR=/etc/switchyard/pipelines
# The admin listener (metrics, console, API) stays on the container's loopback unless
# SWITCHYARD_ADMIN_LISTEN=0.0.0.0:9090 is set, with SWITCHYARD_ADMIN_TOKEN. docs/operations.md
# ("Container image") lists every variable. tests/e2e/dockerfile.test.mjs checks this file
# against scripts/install-deps.sh and an installed tree.

FROM debian:bookworm-slim AS build
WORKDIR /src
# The same script as `make`, without the test-only servers and browser.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWITCHYARD_TESTS=OFF -DSWITCHYARD_BENCH=OFF \
 && cmake --build /build \
 && cmake --install /build --prefix /opt/switchyard --strip

FROM debian:bookworm-slim
# Only the shared libraries the binary and the plugins load, and CA certificates.
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /var/lib/switchyard \
      --shell /usr/sbin/nologin switchyard \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/switchyard
COPY --from=build /opt/switchyard/bin /opt/switchyard/bin
COPY --from=build /opt/switchyard/lib/switchyard /opt/switchyard/lib/switchyard
COPY --from=build /opt/switchyard/etc/switchyard /opt/switchyard/etc/switchyard
COPY --from=build /opt/switchyard/share/switchyard /opt/switchyard/share/switchyard
# Webhooks on every interface: a published port reaches nothing on the container's loopback
# (the installed configuration's default, 127.0.0.1:8080, suits a host). Set the pipelines'
# secrets: the shipped ones accept a development secret while GITHUB_WEBHOOK_SECRET is unset.
# SWITCHYARD_CONFIG: `docker exec ... switchyard dlq list` reads the installed configuration,
# never one the engine's user could put in the working directory (its state dir).
ENV PATH=/opt/switchyard/bin:$PATH \
    SWITCHYARD_CONFIG=/opt/switchyard/etc/switchyard/switchyard.yaml \
    SWITCHYARD_STATE_DIR=/var/lib/switchyard \
    SWITCHYARD_HTTP_LISTEN=0.0.0.0:8080
WORKDIR /var/lib/switchyard
# The journal and the dead-letter queue: keep them across container replacements.
VOLUME /var/lib/switchyard
USER 10001:10001
# 8080: webhooks (http.listen, on every interface: SWITCHYARD_HTTP_LISTEN above). 9090: admin API, /metrics, console (loopback only until
# SWITCHYARD_ADMIN_LISTEN says otherwise).
EXPOSE 8080 9090
# SIGTERM drains: sources stop, in-flight events are delivered for runtime.shutdown_timeout
# (30s), the rest stays in the journal. Give `docker stop` that long: --time 40.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/opt/switchyard/bin/switchyard", "health", "-c", "/opt/switchyard/etc/switchyard/switchyard.yaml"]
ENTRYPOINT ["/opt/switchyard/bin/switchyard"]
CMD ["run", "-c", "/opt/switchyard/etc/switchyard/switchyard.yaml"]
