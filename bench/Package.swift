// swift-tools-version:6.1
import PackageDescription

// The benchmark executables, a package of their own so that the service's package builds
// none of them (as Fuzz/ does for the fuzz targets):
//   hello-bench         the bare Hummingbird hello world, measured beside payment-api by
//                       bench/run.sh (`make bench`)
//   redis-client-bench  the Redis client alone beside redis-benchmark, bench/redis-client.sh
//                       (`make bench-redis-client`)
// The scripts build it in release mode into .build-bench:
//   swift build -c release --package-path bench --build-path .build-bench
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "payment-api-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "payment-api", path: ".."),
        // Already the root's dependencies (the same ranges), for their own products.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "hello-bench",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "redis-client-bench",
            dependencies: [
                .product(name: "RedisClient", package: "payment-api"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
