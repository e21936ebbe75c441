# syntax=docker/dockerfile:1
# payment-api image: the server (entrypoint) and payment-simulator, built with the Swift
# standard library linked in statically, on a plain Ubuntu 24.04 runtime.
#   docker build -t payment-api:dev .

# ---------------------------------------------------------------- build
FROM swift:6.3-noble AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
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
FROM ubuntu:noble
# libhiredis1.1.0 is Ubuntu 24.04's runtime package of hiredis (1.2.x; the soname
# libhiredis.so.1.1.0 names the package). Nothing else: the Swift runtime is static.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis1.1.0 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*
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
