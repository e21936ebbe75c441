import ArgumentParser
import Foundation
import SimulatorCore

/// The options every mode that sends requests to payment-api shares: where, with which key,
/// and what must answer before the first request.
struct TargetOptions: ParsableArguments {
    @Option(name: .customLong("target"), help: "Base URL of a payment-api; repeat for round-robin.")
    var targets: [String] = []
    @Option(help: "How long to wait for every target's /readyz, in seconds.")
    var readyTimeoutSeconds = 30
    @Option(help: "The path that must answer 200 before the run (a server without /readyz: /healthz).")
    var readyPath = "/readyz"
    @Option(help: "API key `<key-id>.<secret>`, sent as a bearer token (when the server has API_KEYS_FILE).")
    var apiKey: String?

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("give at least one --target URL (or SIM_TARGET)") }
        for target in targets where !(target.hasPrefix("http://") || target.hasPrefix("https://")) {
            throw ValidationError("--target must be an http:// or https:// URL, got '\(target)'")
        }
        guard readyPath.hasPrefix("/") else { throw ValidationError("--ready-path must start with /, got '\(readyPath)'") }
    }

    /// The targets without a trailing slash.
    var baseURLs: [String] { targets.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } }

    /// Runs `body` with a client of `connections` per target once every target is ready;
    /// the client is shut down on every path. Exit code 69 when the targets are not ready.
    func withReadyTargets(connections: Int, _ body: (_ targets: [String], _ transport: AsyncHTTPClientTransport) async throws -> Int32) async throws {
        let targets = baseURLs
        let transport = AsyncHTTPClientTransport(connectionsPerTarget: connections, apiKey: apiKey)
        let code: Int32
        do {
            var settings = SimulatorSettings(targets: targets)
            settings.readyTimeout = .seconds(readyTimeoutSeconds)
            settings.readyPath = readyPath
            logLine("waiting for \(readyPath) on \(targets.joined(separator: ", "))")
            if await Simulator(settings: settings, transport: transport).waitUntilReady() {
                code = try await body(targets, transport)
            } else {
                logLine("targets were not ready within \(readyTimeoutSeconds) s")
                code = 69
            }
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
        if code != 0 { throw ExitCode(code) }
    }
}

/// A line on stderr; stdout carries only reports.
func logLine(_ message: String) {
    FileHandle.standardError.write(Data("payment-simulator: \(message)\n".utf8))
}
