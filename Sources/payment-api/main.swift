// payment-api: reads the configuration, then runs the server in a ServiceGroup that
// drains on SIGTERM/SIGINT (readiness 503, keep serving, stop, close Redis, exit 0).
import Configuration
import Foundation
import Logging
import PaymentAPI
import PaymentRedis
import ServiceLifecycle
import UnixSignals

// Environment first, then --kebab-case flags: REDIS_URL or --redis-url.
let reader = ConfigReader(providers: [EnvironmentVariablesProvider(), CommandLineArgumentsProvider()])
let configuration: AppConfiguration
do {
    configuration = try AppConfiguration { name in
        let key = ConfigKey(name.lowercased().split(separator: "_").map(String.init))
        return reader.string(forKey: key, isSecret: name.contains("PASSWORD"))
    }
} catch {
    FileHandle.standardError.write(Data("payment-api: \(error)\n".utf8))
    exit(78)  // EX_CONFIG
}

let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
let format: JSONLogHandler.Format = configuration.logFormat == .json ? .json : .text
LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level, format: format) }
let logger = Logger(label: "payment-api")

let readiness = Readiness()
let application = try buildApplication(configuration: configuration, readiness: readiness, logger: logger)
logger.info("starting", metadata: [
    "address": "\(configuration.httpHost):\(configuration.httpPort)",
    "redis": "\(configuration.redis.storeDescription)",
    "version": "\(PaymentMetrics.version)",
])

var groupConfiguration = ServiceGroupConfiguration(
    services: [
        .init(service: application),
        // Last, so it hears of the shutdown first.
        .init(service: ShutdownDrain(readiness: readiness, drain: configuration.shutdownDrain, logger: logger)),
    ],
    gracefulShutdownSignals: [.sigterm, .sigint],
    logger: logger
)
groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownDrain + .seconds(15)
do {
    try await ServiceGroup(configuration: groupConfiguration).run()
} catch {
    logger.error("stopped on an error", metadata: ["error": "\(error)"])
    // Log lines are written by a thread of their own: write the last ones before exiting.
    JSONLogHandler.flush()
    exit(1)
}
logger.info("stopped")
JSONLogHandler.flush()
