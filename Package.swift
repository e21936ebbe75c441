// swift-tools-version:6.1
import PackageDescription

// Every target is built in Swift 6 language mode with the two upcoming features that
// keep existentials explicit and imports honest.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "payment-api",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "payment-api", targets: ["payment-api"]),
        .executable(name: "payment-simulator", targets: ["payment-simulator"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "PaymentCore", targets: ["PaymentCore"]),
        .library(name: "StrictJSON", targets: ["StrictJSON"]),
        // For the fuzz package (Fuzz/): FuzzChargeRequest reads the double's requests.
        .library(name: "ProcessorDouble", targets: ["ProcessorDouble"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "CommandLineArguments"]),
        // Spans (already under AsyncHTTPClient) and their OTLP exporter: HTTP/protobuf only,
        // not gRPC, whose packages would more than double the exporter's build time.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // swift-otel's own W3C parser (built for it already): PaymentAPI checks a request's
        // trace headers with it before the propagator sees them.
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
    ],
    targets: [
        // hiredis parses RESP replies; Debian 12 ships 0.14, Ubuntu 24.04 ships 1.2.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // A strict JSON parser (limits, duplicates, exact numbers) and a writer: every JSON
        // read or written by the server, the simulator and the processor double.
        .target(name: "StrictJSON", swiftSettings: swiftSettings),
        // Money, validation, fingerprints, the payment flow's state machine (no I/O) and its
        // driver on an event loop, over the ports' protocols.
        .target(
            name: "PaymentCore",
            dependencies: [
                "StrictJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Lua scripts and the Redis implementations of PaymentCore's protocols.
        .target(
            name: "PaymentRedis",
            dependencies: [
                "PaymentCore",
                "RedisClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // The processors a payment is charged through, both behind PaymentCore's
        // PaymentProcessor port: the HTTP processor (PROCESSOR_URL; pooled connections, TLS,
        // one deadline per exchange) and the simulated one (no PROCESSOR_URL).
        .target(
            name: "PaymentProcessors",
            dependencies: [
                "PaymentCore",
                "StrictJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Hummingbird application: routes, middleware, problem+json, health, metrics,
        // logging, configuration, buildApplication().
        .target(
            name: "PaymentAPI",
            dependencies: [
                "PaymentCore",
                "PaymentProcessors",
                "StrictJSON",
                "PaymentRedis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            // Served at /openapi.yaml; `openapi.yaml` at the top of the repo links here.
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "payment-api",
            dependencies: [
                "PaymentAPI",
                "PaymentRedis",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            swiftSettings: swiftSettings
        ),
        // The simulator's logic: plan, clients, back-off, retry budget, verification, report.
        .target(
            name: "SimulatorCore",
            dependencies: [
                "PaymentCore",
                "StrictJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // A payment processor for tests and demos (`payment-simulator --mode processor-double`):
        // the processor contract of docs/processor.md, deduplicating by processor key, with
        // faults injected on request. On SwiftNIO's HTTP/1 directly, so that a fault can drop
        // the connection after charging.
        .target(
            name: "ProcessorDouble",
            dependencies: [
                "PaymentCore",
                "StrictJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "payment-simulator",
            dependencies: [
                "SimulatorCore",
                "ProcessorDouble",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Starts and controls real redis-server processes for integration tests.
        .target(
            name: "RedisTestSupport",
            dependencies: [
                "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/RedisTestSupport",
            swiftSettings: swiftSettings
        ),
        // An in-memory PaymentStore with the Lua scripts' semantics, and the store contract
        // both it and Redis are checked against.
        .target(name: "PaymentStoreTesting", dependencies: ["PaymentCore"], path: "Tests/PaymentStoreTesting", swiftSettings: swiftSettings),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient",
                "RedisTestSupport",
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PaymentRedisTests",
            dependencies: [
                "PaymentCore",
                "PaymentStoreTesting",
                "PaymentProcessors",
                "PaymentRedis",
                "RedisClient",
                "RedisTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PaymentAPITests",
            dependencies: [
                "PaymentAPI",
                "PaymentCore",
                "PaymentProcessors",
                "PaymentRedis",
                "StrictJSON",
                "ProcessorDouble",
                "RedisClient",
                "RedisTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SimulatorCoreTests",
            // ProcessorDouble: its fake processor serves the double's own GET /charges JSON.
            dependencies: ["SimulatorCore", "PaymentCore", "ProcessorDouble", "StrictJSON"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProcessorDoubleTests",
            dependencies: [
                "ProcessorDouble",
                "PaymentCore",
                "StrictJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StrictJSONTests",
            dependencies: ["StrictJSON"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PaymentCoreTests",
            dependencies: [
                "PaymentCore",
                "PaymentStoreTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
