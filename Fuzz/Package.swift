// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets over the parsers that read what clients, operators, Redis and the
// processor double's callers send:
// one executable per target, each exporting LLVMFuzzerTestOneInput. A package of its
// own, so that `swift build` at the root never compiles them. Fuzz/run.sh builds and
// runs them (docs/fuzzing.md); the sanitizer flags come from its command line.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let paymentCore = Target.Dependency.product(name: "PaymentCore", package: "payment-api")
let redisClient = Target.Dependency.product(name: "RedisClient", package: "payment-api")
let processorDouble = Target.Dependency.product(name: "ProcessorDouble", package: "payment-api")
let strictJSON = Target.Dependency.product(name: "StrictJSON", package: "payment-api")

func fuzzer(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, swiftSettings: swiftSettings)
}

let package = Package(
    name: "payment-api-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "payment-api", path: ".."),
        // Already the root's dependencies (the same ranges), for their own types.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [paymentCore, strictJSON], swiftSettings: swiftSettings),
        fuzzer("FuzzPaymentRequest", [paymentCore, strictJSON]),
        fuzzer("FuzzJSONParser", [strictJSON]),
        fuzzer("FuzzMoney", [paymentCore]),
        fuzzer("FuzzAPIKeys", [paymentCore, .product(name: "Crypto", package: "swift-crypto")]),
        fuzzer("FuzzRedisURL", [redisClient]),
        // @testable: HiredisReplyReader is internal (testability is on in debug builds).
        fuzzer("FuzzHiredisReplyReader", [redisClient, .product(name: "NIOCore", package: "swift-nio")]),
        // @testable: ChargeRequest and BearerToken are internal to the processor double.
        fuzzer("FuzzChargeRequest", [paymentCore, processorDouble, strictJSON]),
        fuzzer("FuzzLedgerWindow", [paymentCore]),
        fuzzer("FuzzProcessorReply", [paymentCore]),
    ]
)
