# Tessera: one image with the three services and the development provider sink.
#   docker build -t tessera:local .
#   docker run --rm tessera:local tessera-rewards      (see docs/deploy.md for the environment)

# --- build ---------------------------------------------------------------------------------
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make pkg-config ca-certificates \
      libpistache-dev libhttp-parser-dev libhiredis-dev librdkafka-dev nlohmann-json3-dev libgtest-dev libgmock-dev \
      libssl-dev libcurl4-openssl-dev libcctz-dev libgoogle-perftools-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target tessera-rewards tessera-offers tessera-notifications \
      tessera-provider-sink tessera-devtoken

# --- runtime: only the shared libraries the binaries load, a non-root user -----------------
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpistache0 libhiredis0.14 librdkafka1 libssl3 libcurl4 \
      libcctz2 libtcmalloc-minimal4 tzdata ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid tessera --no-create-home --shell /usr/sbin/nologin tessera
COPY --from=build /build/services/rewards/tessera-rewards /build/services/offers/tessera-offers \
     /build/services/notifications/tessera-notifications /build/tools/provider-sink/tessera-provider-sink \
     /build/tools/devtoken/tessera-devtoken /usr/local/bin/
COPY config/program.json /etc/tessera/program.json
ENV TESSERA_PROGRAM_FILE=/etc/tessera/program.json
USER 10001:10001
EXPOSE 8081 8082 8083
CMD ["tessera-rewards"]
