# syntax=docker/dockerfile:1
# payment-api image: the server (entrypoint) and payment-simulator, built with the Swift
# standard library linked in statically, on a plain Ubuntu 24.04 runtime.
#   docker build -t payment-api:dev .
# The base images and the runtime package of hiredis are build arguments whose defaults
# are the images users pull; the lab (lab/lib/base-images.sh, no registry) builds the
# same file from local Debian 12 images:
#   docker build --build-arg BUILD_IMAGE=local/swift:6.3.1-bookworm \
#     --build-arg RUNTIME_IMAGE=local/debian:bookworm \
#     --build-arg HIREDIS_RUNTIME_PACKAGE=libhiredis0.14 -t payment-api:lab .
ARG BUILD_IMAGE=swift:6.3-noble
ARG RUNTIME_IMAGE=ubuntu:noble
# libhiredis1.1.0 is Ubuntu 24.04's runtime package of hiredis (1.2.x; the soname
# libhiredis.so.1.1.0 names the package); Debian 12's is libhiredis0.14.
ARG HIREDIS_RUNTIME_PACKAGE=libhiredis1.1.0

# ---------------------------------------------------------------- build
FROM ${BUILD_IMAGE} AS build
# apt-get runs only when the base lacks the packages: a base image that has them
# preinstalled (the lab's, where no apt archive is reachable from a build) builds
# offline.
# Versions are not pinned (DL3008): they are whatever the base image's release ships, so
# a pin would break on each point release of Ubuntu's archive.
# hadolint ignore=DL3008
RUN if ! dpkg -s libhiredis-dev pkg-config >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends libhiredis-dev pkg-config \
        && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product payment-api \
    && swift build -c release --static-swift-stdlib --product payment-simulator \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/payment-api" \
          "$(swift build -c release --show-bin-path)/payment-simulator" /staging/ \
    && cp -R "$(swift build -c release --show-bin-path)/payment-api_PaymentAPI.resources" /staging/ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
ARG HIREDIS_RUNTIME_PACKAGE
# The hiredis runtime library, CA roots and time zones. Nothing else: the Swift runtime
# is static. As above, apt-get runs only when the base lacks them (the lab's base has
# them preinstalled and no apt archive to reach), and versions follow the base's release
# (DL3008).
# hadolint ignore=DL3008
RUN if ! dpkg -s "${HIREDIS_RUNTIME_PACKAGE}" ca-certificates tzdata >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends "${HIREDIS_RUNTIME_PACKAGE}" ca-certificates tzdata \
        && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /staging/payment-api /staging/payment-simulator /usr/local/bin/
# The OpenAPI document served at /openapi.yaml: SwiftPM looks for its resource bundle
# next to the executable.
COPY --from=build /staging/payment-api_PaymentAPI.resources /usr/local/bin/payment-api_PaymentAPI.resources
# Symbolicated backtraces on a crash, without a toolchain in the image.
COPY --from=build /staging/swift-backtrace-static /usr/libexec/swift/linux/swift-backtrace-static
ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/libexec/swift/linux/swift-backtrace-static
# A numeric user, so that Kubernetes can check runAsNonRoot without /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["payment-api"]
